"""IndexTTS-2's text front end: SentencePiece `bpe.model` tokens, split into segments upstream's way.

IndexTTS-2 was trained on upper-case text with every CJK character spaced apart; segments end at
sentence punctuation, commas or dashes and are merged back up to a token budget. Text arrives
normalised (`text_normalizer.py`, upstream's normaliser) and goes through upstream v2's punctuation
map. Two deliberate differences: a quote right after a sentence end stays with that
sentence only (upstream also repeats it at the start of the next segment), and a run longer than a
segment with no punctuation in it is cut between words, not inside one.
"""

from __future__ import annotations

import re
from pathlib import Path

from sentencepiece import SentencePieceProcessor

_CJK = re.compile(
    r"([\u1100-\u11ff\u2e80-\ua4cf\ua840-\uD7AF\uF900-\uFAFF\uFE30-\uFE4F\uFF65-\uFFDC"
    r"\U00020000-\U0002FFFF])"
)
_SENTENCE_ENDS = (".", "!", "?", "▁.", "▁?", "▁...")
_COMMAS = (",", "▁,")
_DASHES = ("-",)
_QUOTES = ("'", "▁'")
# Upstream v2's punctuation map (TextNormalizer.char_rep_map), applied after normalisation.
_PUNCTUATION = {
    "：": ",", "；": ",", ";": ",", "，": ",", "。": ".", "！": "!", "？": "?", "\n": " ",
    "·": "-", "、": ",", "...": "…", ",,,": "…", "，，，": "…", "……": "…", "“": "'", "”": "'",
    '"': "'", "‘": "'", "’": "'", "（": "'", "）": "'", "(": "'", ")": "'", "《": "'", "》": "'",
    "【": "'", "】": "'", "[": "'", "]": "'", "—": "-", "～": "-", "~": "-", "「": "'", "」": "'",
    ":": ",",
}  # fmt: skip
_PUNCTUATION_PATTERN = re.compile("|".join(re.escape(p) for p in _PUNCTUATION))


def spaced_upper_case(text: str) -> str:
    """ "你好 hello" → "你 好 HELLO": the form IndexTTS-2's vocabulary was built on."""
    parts = _CJK.split(text.strip())
    return " ".join(part.strip().upper() for part in parts if part.strip())


class BpeText:
    """Tokens and segments for IndexTTS-2 from its `bpe.model`."""

    def __init__(self, model: Path) -> None:
        self._sp = SentencePieceProcessor(model_file=str(model))

    @property
    def unknown_id(self) -> int:
        return self._sp.unk_id()

    def pieces(self, text: str) -> list[str]:
        """SentencePiece pieces of already-normalised text."""
        text = _PUNCTUATION_PATTERN.sub(lambda m: _PUNCTUATION[m.group()], text)
        if not text.strip():
            return []
        if len(text.strip()) > 1:  # upstream encodes a lone character as it is
            text = spaced_upper_case(text)
        return self._sp.encode(text, out_type=str)

    def ids(self, pieces: list[str]) -> list[int]:
        return [self._sp.piece_to_id(p) for p in pieces]

    def segments(
        self, text: str, max_tokens: int, first_tokens: int | None = None
    ) -> list[list[int]]:
        """Token ids per segment, at most `max_tokens` each; the first at most `first_tokens`."""
        pieces = self.pieces(text)
        if first_tokens is None or first_tokens >= max_tokens:
            return [self.ids(s) for s in split_segments(pieces, max_tokens)]
        first, *rest = split_segments(pieces, first_tokens)
        remainder = [p for segment in rest for p in segment]
        return [self.ids(s) for s in [first, *split_segments(remainder, max_tokens)]]


def split_segments(pieces: list[str], limit: int) -> list[list[str]]:
    """Upstream's segmentation: end a segment at a sentence end, a comma, or a dash, then merge
    neighbours while they fit in `limit` pieces."""
    return _split(pieces, _SENTENCE_ENDS, limit)


def _split(pieces: list[str], ends: tuple[str, ...], limit: int) -> list[list[str]]:
    segments: list[list[str]] = []
    current: list[str] = []
    skip_next = False
    for i, piece in enumerate(pieces):
        if skip_next:
            skip_next = False
            continue
        current.append(piece)
        if ends != _COMMAS and any(c in current for c in _COMMAS):
            segments += _split(current, _COMMAS, limit)
        elif ends != _DASHES and "-" in current:
            segments += _split(current, _DASHES, limit)
        elif len(current) <= limit:
            if piece in ends and len(current) > 2:
                if i + 1 < len(pieces) and pieces[i + 1] in _QUOTES:
                    current.append(pieces[i + 1])
                    skip_next = True
                segments.append(current)
                current = []
            continue
        else:
            segments += _cut(current, limit)
        current = []
    if current:
        segments.append(current)
    return _merge(segments, limit)


def _cut(pieces: list[str], limit: int) -> list[list[str]]:
    """A run with no punctuation to end it, in segments of at most `limit` pieces, each cut before
    a word's first piece where one fits (upstream cuts at exactly `limit`, inside a word)."""
    segments, start = [], 0
    while len(pieces) - start > limit:
        end = start + limit
        cut = next((i for i in range(end, start, -1) if _starts_word(pieces[i])), end)
        segments.append(pieces[start:cut])
        start = cut
    return [*segments, pieces[start:]]


def _starts_word(piece: str) -> bool:
    return piece.startswith("▁") or bool(_CJK.match(piece))


def _merge(segments: list[list[str]], limit: int) -> list[list[str]]:
    merged: list[list[str]] = []
    for segment in segments:
        if not segment:
            continue
        if merged and len(merged[-1]) + len(segment) <= limit:
            merged[-1] = merged[-1] + segment
        else:
            merged.append(segment)
    return merged
