"""IndexTTS-2's text front end says what upstream's would: normalised text and SentencePiece pieces
equal to upstream's own front end (`tests/make_text_goldens.py` ran index-tts's `front.py` with
WeTextProcessing on its own test sentences and ours), the grammar picked from the text; segments cut
between words; a missing normaliser is a WARNING at load, never silence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loguru import logger

from tts_plugin.engines.indextts2 import text_normalizer
from tts_plugin.engines.indextts2.bpe_text import BpeText, split_segments
from tts_plugin.engines.indextts2.text_normalizer import TextNormalizer

pytestmark = pytest.mark.slow
DATA = Path(__file__).parents[2] / "data"
GOLDENS = json.loads((DATA / "indextts2_text_goldens.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def normalizer(tmp_path_factory) -> TextNormalizer:
    # The first load on a machine compiles WeTextProcessing's Chinese grammar (about a minute,
    # then cached in ~/.cache/indextts25/): once per run at most.
    normalizer = TextNormalizer(tmp_path_factory.mktemp("model") / "glossary.yaml")
    assert normalizer.load()
    return normalizer


@pytest.fixture(scope="module")
def bpe() -> BpeText:
    return BpeText(DATA / "tiny_bpe.model")


@pytest.mark.parametrize("case", GOLDENS["cases"], ids=lambda case: case["text"][:24])
def test_normalised_text_and_pieces_equal_upstreams(normalizer, bpe, case):
    # The request's language is ignored as upstream ignores it: the grammar comes from the text.
    for language in ("en", "zh"):
        normalized = normalizer.normalize(case["text"], language)
        assert normalized == case["normalized"]
    assert bpe.pieces(normalized) == case["pieces"]


def test_the_goldens_cover_upstreams_protections():
    normalized = {case["text"]: case["normalized"] for case in GOLDENS["cases"]}
    assert normalized["where's the money?"] == "where is the money?"
    assert "XVAN4" in normalized["晕XUAN4是一种GAN3觉"]  # pinyin with its tone kept
    assert "莱维特" in normalized["约瑟夫·高登-莱维特（Joseph Gordon-Levitt is an American actor）"]
    assert len(GOLDENS["cases"]) >= 40


def test_a_long_run_without_punctuation_is_cut_between_words(bpe):
    pieces = bpe.pieces("the quick brown fox jumps over the lazy dog and keeps on running far away")
    segments = split_segments(pieces, 12)
    assert len(pieces) > 20 and len(segments) > 1
    assert all(len(segment) <= 12 and segment[0].startswith("▁") for segment in segments)
    assert [p for segment in segments for p in segment] == pieces


def test_a_missing_normaliser_is_a_warning_at_load_and_text_still_normalised(monkeypatch, tmp_path):
    normalizer = TextNormalizer(tmp_path / "glossary.yaml")
    monkeypatch.setattr(normalizer._upstream, "load", lambda: False)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        assert not normalizer.load()
    finally:
        logger.remove(sink)
    assert warnings == [text_normalizer.MISSING]
    # NeMo's grammars read the numbers instead: never silently as digits.
    assert "twenty" in normalizer.normalize("I have 20 apples.", "en")
