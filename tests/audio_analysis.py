"""Small measurements on int16 speech used by tests: loudness, pitch, transcription."""

from __future__ import annotations

import numpy as np


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0


def f0_track(
    audio: np.ndarray, sample_rate: int, fmin: float = 60, fmax: float = 400
) -> np.ndarray:
    """Fundamental frequency of each voiced 40 ms frame, 10 ms apart (normalised autocorrelation)."""
    x = audio.astype(np.float64) / 32768.0
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    lo, hi = int(sample_rate / fmax), int(sample_rate / fmin)
    threshold = 0.1 * np.max(np.abs(x))
    f0s = []
    for start in range(0, len(x) - frame, hop):
        w = x[start : start + frame]
        if np.sqrt(np.mean(w**2)) < threshold * 0.3:
            continue
        w = w - w.mean()
        ac = np.correlate(w, w, mode="full")[frame - 1 :]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5:
            f0s.append(sample_rate / lag)
    return np.array(f0s)


def median_f0(audio: np.ndarray, sample_rate: int) -> float:
    """Median fundamental frequency over voiced frames."""
    f0s = f0_track(audio, sample_rate)
    return float(np.median(f0s)) if f0s.size else 0.0


def f0_range_semitones(audio: np.ndarray, sample_rate: int) -> float:
    """Pitch range: the 10th to the 90th percentile of the voiced frames' F0, in semitones.

    Frames more than a factor 1.5 from the median are left out: the tracker's octave errors, which
    otherwise decide the range."""
    f0s = f0_track(audio, sample_rate)
    if f0s.size:
        middle = np.median(f0s)
        f0s = f0s[(f0s > middle / 1.5) & (f0s < middle * 1.5)]
    if f0s.size < 10:
        return 0.0
    low, high = np.percentile(f0s, [10, 90])
    return float(12 * np.log2(high / low))


def transcribe(whisper, audio: np.ndarray, sample_rate: int, language: str = "en") -> str:
    """Transcribe int16 audio with a faster-whisper model (resampled to its 16 kHz)."""
    import soxr

    x = soxr.resample(audio.astype(np.float32) / 32768.0, sample_rate, 16000)
    segments, _ = whisper.transcribe(x, language=language, beam_size=1, temperature=0.0)
    return " ".join(s.text.strip() for s in segments)


def words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


def word_recall(expected: str, heard: str) -> float:
    """Share of the expected words that were heard."""
    want, got = words(expected), set(words(heard))
    return sum(w in got for w in want) / len(want)


def _frame_levels(audio: np.ndarray, sample_rate: int, seconds: float = 0.02) -> np.ndarray:
    n = int(seconds * sample_rate)
    frames = audio[: len(audio) // n * n].astype(np.float64).reshape(-1, n)
    return np.sqrt(np.mean(frames**2, axis=1))


def speech_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Which 20 ms frames carry speech: above 5 % of the loud frames' level (pauses are below)."""
    levels = _frame_levels(audio, sample_rate)
    return levels > 0.05 * np.percentile(levels, 95)


def pause_share(audio: np.ndarray, sample_rate: int) -> float:
    """Share of the audio that is pause (20 ms frames without speech)."""
    return float(1.0 - speech_frames(audio, sample_rate).mean())


def speech_seconds(audio: np.ndarray, sample_rate: int) -> float:
    """Seconds of speech without the pauses: the inverse of the speech rate for a given text."""
    return float(speech_frames(audio, sample_rate).sum() * 0.02)


def speech_level_db(audio: np.ndarray, sample_rate: int) -> float:
    """Level of the speech frames only (dB re full scale), so pauses do not lower it."""
    levels = _frame_levels(audio, sample_rate)[speech_frames(audio, sample_rate)]
    return float(20 * np.log10(np.sqrt(np.mean(levels**2)) / 32768.0))
