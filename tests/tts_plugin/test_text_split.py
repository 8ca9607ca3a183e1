"""Clause splitting for early first audio, and script detection."""

from __future__ import annotations

from tts_plugin.text_split import detect_language, split_for_streaming

LONG = (
    "Well, I think that the weather today is lovely, and we should go for a long walk in the "
    "park; maybe we can even bring a basket with sandwiches, fruit, and lemonade. What do you say?"
)


def test_long_sentence_starts_with_a_short_clause_and_keeps_all_words():
    pieces = split_for_streaming(LONG)
    assert len(pieces) >= 2
    assert pieces[0] == "Well, I think that the weather today is lovely,"
    assert " ".join(pieces).split() == LONG.split()
    assert all(len(p) <= 160 for p in pieces)


def test_short_sentence_stays_whole():
    assert split_for_streaming("Hi, there.") == ["Hi, there."]
    assert split_for_streaming("   ") == []


def test_mandarin_splits_at_cjk_punctuation_without_spaces():
    pieces = split_for_streaming("你好，今天天气很好。我们去公园散步吧，好不好？")
    assert pieces[0] == "你好，今天天气很好。"
    assert "".join(pieces) == "你好，今天天气很好。我们去公园散步吧，好不好？"


def test_detect_language_by_script():
    assert detect_language("今天天气很好") == "zh"
    assert detect_language("The weather is nice") == "en"
    assert detect_language("1234 !!") == "en"
    assert detect_language("今日はいい天気ですね") == "ja"  # kana: Japanese, though Han appears
    assert detect_language("我喜欢 Python 编程和音乐") == "zh"
