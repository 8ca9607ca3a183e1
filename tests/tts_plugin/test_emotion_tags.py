"""Inline `[emotion]` tags from the LLM: read, and removed wherever they stand."""

from __future__ import annotations

import pytest

from tts_plugin.emotion import Emotion
from tts_plugin.emotion_tags import read_tag, strip_emotion_tags, tag_instructions


@pytest.mark.parametrize(
    ("tag", "emotion"),
    [
        ("[sad]", Emotion(preset="sad")),
        ("[ Happy : 0.4 ]", Emotion(preset="happy", intensity=0.4)),
        ("[happy: 0.9]", Emotion(preset="happy", intensity=0.9)),
        ("[excited!]", Emotion(preset="excited")),
        ("[emotion: calm]", Emotion(preset="calm")),
        ("[sad, 0.5]", Emotion(preset="sad", intensity=0.5)),
        ("【开心】", Emotion(preset="happy")),
        ("［生气］", Emotion(preset="angry")),
    ],
)
def test_known_tags_name_their_emotion(tag, emotion):
    assert read_tag(tag).emotion == emotion


@pytest.mark.parametrize("tag", ["[laughs]", "[tone: warm]", "[sirNews:0.6]", "[sad:3]"])
def test_unknown_names_and_bad_intensities_are_tags_without_an_emotion(tag):
    read = read_tag(tag)
    assert read is not None and read.emotion is None


@pytest.mark.parametrize("text", ["[1]", "[]", "[1.5]", "[" + "a" * 41 + "]", "[a\nb]"])
def test_groups_that_do_not_start_with_a_letter_or_are_long_are_text(text):
    assert read_tag(text) is None


def test_every_tag_anywhere_is_removed_and_the_last_known_one_read():
    for text, spoken, emotion in [
        ("[sad] I'm sorry to hear that.", "I'm sorry to hear that.", Emotion(preset="sad")),
        ("Hello [sad] world.", "Hello world.", Emotion(preset="sad")),
        ("The news [sirNews:0.6] is good.", "The news is good.", None),
        ("Done[happy].", "Done.", Emotion(preset="happy")),
        ("[calm] Well [excited:0.9], that [ laughs ] is fun.", "Well, that is fun.",
         Emotion(preset="excited", intensity=0.9)),
        ("[calm][angry] Stop.", "Stop.", Emotion(preset="angry")),
    ]:  # fmt: skip
        tagged = strip_emotion_tags(text)
        assert (tagged.text, tagged.emotion) == (spoken, emotion), text


def test_text_without_tags_is_untouched():
    for text in ("[1] is a footnote", "[]", "No tags.", "A [1.5] ratio.", " spaced "):
        tagged = strip_emotion_tags(text)
        assert (tagged.text, tagged.emotion, tagged.tags) == (text, None, ())


def test_instructions_name_every_preset():
    text = tag_instructions()
    assert "[sad]" in text and "lively" in text
