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


def test_text_without_a_leading_tag_is_untouched():
    for text in ("Hello [sad] world.", "[1] is a footnote", "[]", "No tags."):
        tagged = split_emotion_tag(text)
        assert (tagged.text, tagged.emotion, tagged.tag) == (text, None, None)


def test_instructions_name_every_preset():
    text = tag_instructions()
    assert "[sad]" in text and "lively" in text
