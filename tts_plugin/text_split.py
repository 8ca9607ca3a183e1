"""Cut text into pieces a TTS can start on early, and tell its script.

A long sentence waits for the whole sentence to be synthesised before the first sample plays. Cutting
at the first clause boundary after a few words gets first audio out sooner; later clauses are merged
back up to `max_chars` so their prosody stays natural.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_KANA = re.compile(r"[\u3040-\u30ff]")
# A boundary is punctuation followed by space (Latin) or any CJK punctuation.
_BOUNDARY = re.compile(r"(?<=[.!?;:,])\s+|(?<=[。！？；：，、])|(?<=[—–])\s*")


def detect_language(text: str) -> str:
    """The language a text's script says: `"ja"` with kana, `"zh"` when most letters are Han
    characters, else `"en"` (a Latin script says no more: the caller may know better)."""
    letters = _LETTER.findall(text)
    if not letters:
        return "en"
    if any(_KANA.match(ch) for ch in letters):
        return "ja"
    han = sum(1 for ch in letters if _CJK.match(ch))
    return "zh" if han / len(letters) >= 0.3 else "en"


def _size(piece: str) -> int:
    # A Han character is a syllable: weigh it like ~3 Latin characters.
    return len(piece) + 2 * len(_CJK.findall(piece))


def split_for_streaming(text: str, *, first_min_chars: int = 12, max_chars: int = 160) -> list[str]:
    """Split text at clause boundaries: a short first piece, then pieces of at most `max_chars`.

    The first piece ends at the first boundary after `first_min_chars`; the rest are greedy merges
    of clauses. A clause longer than `max_chars` with no boundary stays whole.
    """
    clauses = [c.strip() for c in _BOUNDARY.split(text.strip()) if c and c.strip()]
    if not clauses:
        return []
    pieces: list[str] = []
    current = ""
    for clause in clauses:
        candidate = f"{current} {clause}".strip() if current else clause
        if _is_cjk_join(current, clause):
            candidate = current + clause
        limit = first_min_chars if not pieces else max_chars
        if not pieces and _size(candidate) >= limit:
            pieces.append(candidate)
            current = ""
        elif pieces and current and _size(candidate) > limit:
            pieces.append(current)
            current = clause
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _is_cjk_join(left: str, right: str) -> bool:
    return bool(left) and bool(_CJK.match(left[-1:] or " ") or left[-1:] in "。！？；：，、")
