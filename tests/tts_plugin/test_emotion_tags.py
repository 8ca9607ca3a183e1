"""Inline `[emotion]` tags from the LLM."""

from __future__ import annotations

from tts_plugin.emotion import Emotion
from tts_plugin.emotion_tags import split_emotion_tag, tag_instructions


def test_leading_tag_is_removed_and_read():
    tagged = split_emotion_tag("[sad] I'm sorry to hear that.")
    assert tagged.text == "I'm sorry to hear that."
    assert tagged.emotion == Emotion(preset="sad")


def test_tag_with_intensity_and_spacing():
    tagged = split_emotion_tag("  [ Happy : 0.4 ]Great!")
    assert (tagged.text, tagged.emotion) == ("Great!", Emotion(preset="happy", intensity=0.4))


def test_unknown_or_out_of_range_tags_are_removed_but_ignored():
    assert split_emotion_tag("[laughs] Ha.") == split_emotion_tag("[laughs] Ha.")
    laughs = split_emotion_tag("[laughs] Ha.")
    assert (laughs.text, laughs.emotion, laughs.tag) == ("Ha.", None, "[laughs]")
    too_much = split_emotion_tag("[sad:3] Oh.")
    assert (too_much.text, too_much.emotion) == ("Oh.", None)


def test_several_tags_last_known_wins():
    tagged = split_emotion_tag("[calm][angry] Stop.")
    assert (tagged.text, tagged.emotion) == ("Stop.", Emotion(preset="angry"))


def test_text_without_tags_is_untouched():
    for text in ("[1] is a footnote", "[]", "No tags.", "A [1.5] ratio."):
        tagged = split_emotion_tag(text)
        assert (tagged.text, tagged.emotion, tagged.tag) == (text, None, None)


def test_tags_inside_a_sentence_are_never_spoken_and_set_no_emotion():
    for text, spoken in [
        ("Hello [sad] world.", "Hello world."),
        ("The news [sirNews:0.6] is good.", "The news is good."),
        ("Done[happy].", "Done."),
        ("[calm] Well [excited:0.9], that [ laughs ] is fun.", "Well, that is fun."),
    ]:
        tagged = split_emotion_tag(text)
        assert tagged.text == spoken
    assert split_emotion_tag("Hello [sad] world.").emotion is None
    assert split_emotion_tag("[calm] Well [excited] ok.").emotion == Emotion(preset="calm")


def test_instructions_name_every_preset():
    text = tag_instructions()
    assert "[sad]" in text and "lively" in text
