"""IndexTTS-2's text front end on the tiny `bpe.model` (upstream equality is in the golden test)."""

from __future__ import annotations

from tiny_checkpoints_v2 import BPE_MODEL

from tts_plugin.engines.indextts2.bpe_text import BpeText, spaced_upper_case, split_segments


def test_text_is_upper_cased_and_cjk_spaced_as_the_vocabulary_expects():
    assert spaced_upper_case(" 你好 hello, 世界! ") == "你 好 HELLO, 世 界 !"


def test_punctuation_is_mapped_and_empty_text_has_no_tokens():
    text = BpeText(BPE_MODEL)
    assert text.pieces("你好，世界。") == text.pieces("你好,世界.")
    assert text.pieces("") == [] and text.pieces("   ") == []
    assert text.segments("", 120) == []


def test_segments_respect_the_budget_and_the_short_first_one():
    text = BpeText(BPE_MODEL)
    story = "Once upon a time, in a small village by the sea, there lived an old fisherman. " * 3
    pieces = text.pieces(story)
    segments = text.segments(story, 40, first_tokens=12)
    assert len(segments[0]) <= 12 and all(len(s) <= 40 for s in segments)
    assert [i for s in segments for i in s] == text.ids(pieces)  # nothing lost or repeated


def test_a_quote_after_a_sentence_end_is_kept_once():
    pieces = ["▁HE", "LLO", ".", "'", "▁YES", "."]
    segments = split_segments(pieces, 3)
    assert [p for s in segments for p in s] == pieces
    assert segments[0][-2:] == [".", "'"]


def test_an_overlong_run_without_punctuation_is_cut_within_the_budget():
    pieces = [f"▁W{i}" for i in range(25)]
    segments = split_segments(pieces, 10)
    # Upstream cuts a run the moment it passes the budget (10 + 1), hence the odd sizes.
    assert [len(s) for s in segments] == [10, 1, 10, 4]
    assert [p for s in segments for p in s] == pieces
