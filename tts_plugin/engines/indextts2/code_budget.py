"""How many semantic codes a text segment may take: a guard against a GPT that never stops.

Upstream decodes up to `max_mel_tokens` (1500) per segment and warns afterwards; a GPT that misses its
stop code then says 30 s of babble (60 s on IndexTTS-2.5, at 25 codes per second), and a streaming
engine plays it live. Here each segment may take at most `margin + tokens × seconds per token` of
speech, four times the typical duration of its text tokens plus 2 s.

Typical durations come from measured speaking rates (Pellegrino, Coupé & Marsico, "A cross-language
perspective on speech information rate", Language 87(3), 2011: syllables per second read aloud,
English 6.19, Mandarin 5.18, Japanese 7.84, Spanish 7.82), taking one text token per syllable: a
Han character or kana is one token and one syllable in both generations' tokenisers, and an
English or Spanish BPE token is about one syllable (about 1.3 tokens and 1.4 syllables per word).
Four times covers slow, emotional speech and its pauses; nothing real comes near the cap.
"""

from __future__ import annotations

SYLLABLES_PER_SECOND = {"en": 6.19, "zh": 5.18, "ja": 7.84, "es": 7.82}
SLOWEST = 4.0  # the cap, in typical durations of the segment's tokens
MARGIN_SECONDS = 2.0


def code_budget(tokens: int, language: str, codes_per_second: int, max_codes: int) -> int:
    """The most codes a segment of `tokens` text tokens in `language` may take (≤ `max_codes`)."""
    rate = SYLLABLES_PER_SECOND.get(language, min(SYLLABLES_PER_SECOND.values()))
    seconds = MARGIN_SECONDS + SLOWEST * tokens / rate
    return max(1, min(max_codes, round(seconds * codes_per_second)))
