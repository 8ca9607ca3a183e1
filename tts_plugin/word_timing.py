"""When each word of a sentence is spoken, so what the listener heard is known to the word.

Pipecat's TTS services hand word timestamps to `add_word_timestamps`; the output transport releases
each word when its audio plays and drops the rest at an interruption, so the conversation context
holds exactly the words heard (Cartesia, ElevenLabs and Rime report them). An engine that knows its
timing reports it (`SynthesisRequest.on_words`: the embedded engine, from Piper's phonemes and
espeak-ng's audio per clause); for any other, `WordClock` estimates it while the sentence's audio is
produced: each word's share of the sentence is its share of the syllables, the sentence's length is
what a typical speaking rate gives until the audio says otherwise, and a word is released once audio
reaching its start exists, so no word is announced before its sound.

Speaking rates: syllables per second read aloud (Pellegrino, Coupé & Marsico, "A cross-language
perspective on speech information rate", Language 87(3), 2011).
"""

from __future__ import annotations

import re

SYLLABLES_PER_SECOND = {"en": 6.19, "zh": 5.18, "ja": 7.84, "es": 7.82}
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A Han character (and the punctuation after it), or a run of anything else up to a space.
_WORD = re.compile(rf"[{_HAN}][^\s\w{_HAN}]*|[^\s{_HAN}]+")
_VOWELS = re.compile(r"[aeiouyáéíóúàèìòùäëïöüâêîôûãõ]+", re.IGNORECASE)

WordTimes = list[tuple[str, float]]


def words(text: str) -> list[str]:
    """The words a listener hears in `text`: space-separated runs, and each Han character."""
    return _WORD.findall(text)


def syllables(word: str) -> int:
    """About how many syllables `word` takes: one per Han character, per vowel group, per digit."""
    if re.match(f"[{_HAN}]", word):
        return 1
    return max(1, len(_VOWELS.findall(word)) + sum(ch.isdigit() for ch in word))


def spread(tokens: list[str], seconds: float, start: float = 0.0) -> WordTimes:
    """Each token's start when `tokens` fill `seconds` from `start`, by their syllables."""
    weights = [syllables(token) for token in tokens]
    total, before, times = sum(weights) or 1, 0, []
    for token, weight in zip(tokens, weights, strict=True):
        times.append((token, start + seconds * before / total))
        before += weight
    return times


class WordClock:
    """One sentence's word starts, estimated as its audio is produced."""

    def __init__(self, text: str, language: str) -> None:
        self._tokens = words(text)
        weights = [syllables(token) for token in self._tokens]
        total = sum(weights) or 1
        rate = SYLLABLES_PER_SECOND.get(language, SYLLABLES_PER_SECOND["en"])
        self._expected = total / rate
        self._fractions, before = [], 0
        for weight in weights:
            self._fractions.append(before / total)
            before += weight
        self._next = 0  # the first word not yet released
        self._last = 0.0  # the start of the last word released

    def advance(self, produced: float) -> WordTimes:
        """The words whose estimated start lies within the `produced` seconds of audio."""
        length = max(self._expected, produced)
        released = []
        while self._next < len(self._tokens):
            start = max(self._last, self._fractions[self._next] * length)
            if start >= produced:
                break
            released.append((self._tokens[self._next], start))
            self._last, self._next = start, self._next + 1
        return released

    def finish(self, produced: float) -> WordTimes:
        """The rest, spread over the audio left once the sentence's whole length is known."""
        times = [
            (token, max(self._last, fraction * produced))
            for token, fraction in zip(
                self._tokens[self._next :], self._fractions[self._next :], strict=True
            )
        ]
        self._next = len(self._tokens)
        return times
