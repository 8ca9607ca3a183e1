"""Word starts: estimated while a sentence's audio is produced, never ahead of its sound."""

from __future__ import annotations

import pytest

from tts_plugin.word_timing import WordClock, spread, syllables, words


def test_words_are_space_separated_runs_and_each_han_character():
    assert words("Hello, it's 3 o'clock.") == ["Hello,", "it's", "3", "o'clock."]
    assert words("你好，世界。OK then") == ["你", "好，", "世", "界。", "OK", "then"]
    assert [syllables(w) for w in ("cat", "banana", "好", "2026")] == [1, 3, 1, 4]


def test_spread_gives_each_word_its_share_of_the_syllables():
    assert spread(["cat", "banana", "dog"], 5.0, start=1.0) == [
        ("cat", 1.0), ("banana", 2.0), ("dog", 5.0)
    ]  # fmt: skip


def test_a_word_is_released_only_once_audio_reaching_it_exists():
    clock = WordClock("one two three four five six seven eight", "en")  # ~1.4 s by the rate
    released = clock.advance(0.3)
    assert released and all(start < 0.3 for _, start in released)
    later = clock.advance(0.9)
    assert all(0.3 <= start < 0.9 for _, start in later) or later == []
    rest = clock.finish(2.0)  # the sentence turned out longer than the rate says
    timed = released + later + rest
    assert [w for w, _ in timed] == words("one two three four five six seven eight")
    starts = [start for _, start in timed]
    assert starts == sorted(starts) and starts[-1] < 2.0
    assert clock.finish(2.0) == []


@pytest.mark.parametrize("produced", [0.05, 0.5, 3.0])
def test_finish_fits_whatever_is_left_into_the_real_length(produced):
    clock = WordClock("a short sentence here", "en")
    clock.advance(produced / 2)
    rest = clock.finish(produced)
    assert all(start <= produced for _, start in rest)
