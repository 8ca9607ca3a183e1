"""Emotion as prosody, for engines with no emotion model (Piper, espeak-ng).

Each of IndexTTS2's eight emotion dimensions gets a speaking rate, pitch, energy and rhythm variation
relative to neutral, loosely after the acoustic correlates reported in the vocal-emotion literature
(joy and surprise: faster, higher, louder; sadness: slower, lower, softer, flatter). A blend of
dimensions is the weighted sum of their deviations. It is an approximation: it moves prosody, not
voice quality, so "angry" sounds like a raised voice rather than a growl.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from tts_plugin.emotion import EMOTION_DIMENSIONS, MAX_EMOTION_SUM, Emotion


@dataclass(frozen=True)
class Prosody:
    """Multipliers relative to the voice's neutral delivery (1.0 = unchanged)."""

    rate: float = 1.0
    pitch: float = 1.0
    energy: float = 1.0
    variation: float = 1.0
    pause_seconds: float = 0.0  # silence added between clauses


# Per dimension, in EMOTION_DIMENSIONS order: (rate, pitch, energy, variation).
_DIMENSION_PROSODY: dict[str, Prosody] = {
    "happy": Prosody(1.08, 1.12, 1.25, 1.3),
    "angry": Prosody(1.06, 1.04, 1.60, 1.2),
    "sad": Prosody(0.80, 0.88, 0.65, 0.6),
    "afraid": Prosody(1.12, 1.10, 0.80, 1.3),
    "disgusted": Prosody(0.90, 0.95, 1.00, 0.9),
    "melancholic": Prosody(0.84, 0.92, 0.70, 0.7),
    "surprised": Prosody(1.04, 1.16, 1.25, 1.4),
    "calm": Prosody(0.92, 0.96, 0.80, 0.7),
}


def prosody_for(weights: tuple[float, ...] | None, speed: float = 1.0) -> Prosody:
    """Blend the dimensions' prosody by a normalised emotion vector, then apply `speed`.

    `weights` is `Emotion.model_vector()` (sum at most `MAX_EMOTION_SUM`); a single full-intensity
    preset is rescaled to weight 1 so its prosody is reached fully.
    """
    deltas = [0.0, 0.0, 0.0, 0.0]
    for name, w in zip(EMOTION_DIMENSIONS, weights or (), strict=False):
        p = _DIMENSION_PROSODY[name]
        share = w / MAX_EMOTION_SUM
        for i, value in enumerate((p.rate, p.pitch, p.energy, p.variation)):
            deltas[i] += share * (value - 1.0)
    rate, pitch, energy, variation = (1.0 + d for d in deltas)
    return Prosody(rate=rate * speed, pitch=pitch, energy=energy, variation=max(0.2, variation))


# Presets whose delivery is not a blend of the dimensions. "serious" reaches IndexTTS2 as its vector
# (calm 0.6, angry 0.2), whose blend here sounded like neutral (duration ×1.01, same pitch, same
# pauses): it is spoken as its own, measured delivery: slower, distinct pauses between clauses,
# steady pitch, a firm level.
_PRESET_PROSODY: dict[str, Prosody] = {
    "serious": Prosody(rate=0.84, pitch=0.96, energy=1.1, variation=0.6, pause_seconds=0.65),
}


def emotion_prosody(emotion: Emotion, speed: float = 1.0) -> Prosody:
    """Prosody for a preset or vector emotion (callers map descriptions to vectors first)."""
    own = _PRESET_PROSODY.get(emotion.preset or "")
    if own is None:
        return prosody_for(emotion.model_vector(), speed)
    k = 1.0 if emotion.intensity is None else emotion.intensity

    def toward(value: float) -> float:  # neutral → the preset's, by intensity
        return 1.0 + k * (value - 1.0)

    return Prosody(
        rate=toward(own.rate) * speed,
        pitch=toward(own.pitch),
        energy=toward(own.energy),
        variation=toward(own.variation),
        pause_seconds=k * own.pause_seconds,
    )


def shift_pitch(audio: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Raise pitch by `factor` by resampling; duration shrinks by the same factor.

    Callers synthesise `factor` times longer first, so the duration comes out as asked. Formants move
    with the pitch, which is inaudible for the ±15% used here.
    """
    if abs(factor - 1.0) < 1e-3 or audio.size == 0:
        return audio
    return soxr.resample(audio, sample_rate * factor, sample_rate, quality="HQ")


def to_int16(audio: np.ndarray, gain: float) -> np.ndarray:
    """Float audio in [-1, 1] times `gain`, soft-limited, as int16."""
    scaled = np.tanh(audio.astype(np.float32) * gain * 1.2) / np.tanh(1.2)
    return (np.clip(scaled, -1.0, 1.0) * 32767).astype(np.int16)
