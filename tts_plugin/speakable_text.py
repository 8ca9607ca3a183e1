"""The one boundary every text crosses before an engine sees it: whatever a client, an LLM, the page's
speak box or an RTVI message sent, the engine gets text it can say, or nothing.

A NUL broke Piper mid-stream (after the server had said 200), a lone surrogate from a JSON escape was
a 500, and a bidi override or a thousand combining marks reach a phonemiser as garbage. Here:
control characters (C0/C1 but newline and tab), bidi embeddings/overrides/isolates, zero-width and
format characters, surrogates, private-use and non-characters are removed; Unicode is NFKC-normalised
(full-width letters and digits, ligatures, compatibility forms) except Chinese full-width punctuation,
which the clause splitter and the Mandarin voice read as pauses; a base character keeps at most
`MAX_MARKS` combining marks; runs of spaces collapse. Text with no letter or digit left has nothing to
say (`engine.NothingToSay`): the server refuses it before any byte, the Pipecat service skips it.
"""

from __future__ import annotations

import re
import unicodedata

MAX_MARKS = 3
# Chinese full-width punctuation: NFKC would make it ASCII, which reads as English to the splitter.
_KEPT_FULLWIDTH = re.compile(r"[\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+")
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_KEPT_CONTROLS = {"\n", "\t"}
_SPACES = re.compile(r"[^\S\n]+")


def has_speech(text: str) -> bool:
    """Whether there is a letter or a digit to say."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def speakable(text: str) -> str | None:
    """`text` cleaned, or None when nothing is left to say."""
    cleaned = clean(text)
    return cleaned if has_speech(cleaned) else None


def clean(text: str) -> str:
    """Hostile and invisible characters removed, normalised, combining marks capped."""
    kept = "".join(
        ch
        for ch in text
        if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    parts, start = [], 0
    for match in _KEPT_FULLWIDTH.finditer(kept):
        parts += [unicodedata.normalize("NFKC", kept[start : match.start()]), match.group()]
        start = match.end()
    parts.append(unicodedata.normalize("NFKC", kept[start:]))
    return _SPACES.sub(" ", _cap_marks("".join(parts))).strip()


def _cap_marks(text: str) -> str:
    out, marks = [], 0
    for ch in text:
        if unicodedata.category(ch).startswith("M"):
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        out.append(ch)
    return "".join(out)
