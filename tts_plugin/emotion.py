"""The `Emotion` value type: how a sentence should feel, in any of IndexTTS2's four modes.

IndexTTS2 steers emotion by an 8-dim vector (`EMOTION_DIMENSIONS` order), a reference clip, or a text
description scored by its Qwen emotion model. Named presets map to vectors. Every vector is normalised
the way IndexTTS2's own web UI does (per-emotion bias, then a cap on the sum) before it reaches a model:
`infer()` does not do it, and an un-normalised vector drifts the speaker's timbre.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

# Resolves a reference clip's name (an uploaded voice) to its file, or None.
ClipLookup = Callable[[str], Path | None]

EMOTION_DIMENSIONS: tuple[str, ...] = (
    "happy",
    "angry",
    "sad",
    "afraid",
    "disgusted",
    "melancholic",
    "surprised",
    "calm",
)

# Upstream IndexTTS2 web UI (`normalize_emo_vec`): emotions the model over-expresses are damped.
EMOTION_BIAS: tuple[float, ...] = (0.9375, 0.875, 1.0, 1.0, 0.9375, 0.9375, 0.6875, 0.5625)
# Upstream caps the summed weights at 0.8 so at least a fifth of the speaker's own style remains.
MAX_EMOTION_SUM = 0.8

MAX_DESCRIPTION_CHARS = 200


def _vec(**weights: float) -> tuple[float, ...]:
    return tuple(float(weights.get(name, 0.0)) for name in EMOTION_DIMENSIONS)


PRESETS: dict[str, tuple[float, ...]] = {
    "neutral": _vec(),
    "happy": _vec(happy=1.0),
    "sad": _vec(sad=1.0),
    "angry": _vec(angry=1.0),
    "afraid": _vec(afraid=1.0),
    "disgusted": _vec(disgusted=1.0),
    "melancholic": _vec(melancholic=1.0),
    "surprised": _vec(surprised=1.0),
    "calm": _vec(calm=1.0),
    "excited": _vec(happy=0.7, surprised=0.6),
    "serious": _vec(calm=0.6, angry=0.2),
    "lively": _vec(happy=0.5, surprised=0.35),
}

EmotionMode = Literal["preset", "vector", "reference", "description"]


class EmotionError(ValueError):
    """Raised for an emotion that cannot be used; the message names the valid choices."""


def normalize_emotion_vector(vector: Sequence[float]) -> tuple[float, ...]:
    """Apply IndexTTS2's per-emotion bias and cap the sum at `MAX_EMOTION_SUM`."""
    biased = [v * b for v, b in zip(vector, EMOTION_BIAS, strict=True)]
    total = sum(biased)
    if total > MAX_EMOTION_SUM:
        biased = [v * MAX_EMOTION_SUM / total for v in biased]
    return tuple(biased)


def _check_intensity(intensity: float | None) -> None:
    if intensity is None:
        return
    if not isinstance(intensity, (int, float)) or isinstance(intensity, bool):
        raise EmotionError(f"emotion intensity must be a number in [0, 1], got {intensity!r}")
    if not math.isfinite(intensity) or not 0.0 <= intensity <= 1.0:
        raise EmotionError(f"emotion intensity must be in [0, 1], got {intensity!r}")


def _check_vector(vector: Sequence[Any]) -> tuple[float, ...]:
    if len(vector) != len(EMOTION_DIMENSIONS):
        raise EmotionError(
            f"an emotion vector has {len(EMOTION_DIMENSIONS)} values "
            f"({', '.join(EMOTION_DIMENSIONS)}), got {len(vector)}"
        )
    values = []
    for name, v in zip(EMOTION_DIMENSIONS, vector, strict=True):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise EmotionError(f"emotion vector value '{name}' must be a number, got {v!r}")
        if not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise EmotionError(f"emotion vector value '{name}' must be in [0, 1], got {v!r}")
        values.append(float(v))
    return tuple(values)


@dataclass(frozen=True)
class Emotion:
    """One emotion in exactly one mode, with an optional intensity (IndexTTS2's `emo_alpha`).

    `intensity=None` means "not said": the service's intensity setting applies.
    """

    preset: str | None = None
    vector: tuple[float, ...] | None = None
    reference_audio: Path | None = None
    description: str | None = None
    intensity: float | None = None

    def __post_init__(self) -> None:
        given = [
            f
            for f in ("preset", "vector", "reference_audio", "description")
            if getattr(self, f) is not None
        ]
        if len(given) != 1:
            raise EmotionError(
                "an emotion has exactly one of: preset, vector, reference_audio, description"
            )
        _check_intensity(self.intensity)
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise EmotionError(
                    f"unknown emotion preset {self.preset!r}; valid presets: {', '.join(PRESETS)}"
                )
        elif self.vector is not None:
            object.__setattr__(self, "vector", _check_vector(self.vector))
        elif self.reference_audio is not None:
            path = Path(self.reference_audio)
            if not path.is_file():
                raise EmotionError(f"emotion reference clip not found: {path}")
            object.__setattr__(self, "reference_audio", path)
        else:
            text = str(self.description).strip()
            if not text or len(text) > MAX_DESCRIPTION_CHARS:
                raise EmotionError(
                    f"an emotion description has 1 to {MAX_DESCRIPTION_CHARS} characters"
                )
            object.__setattr__(self, "description", text)

    @property
    def mode(self) -> EmotionMode:
        """Which of the four ways this emotion is expressed."""
        if self.preset is not None:
            return "preset"
        if self.vector is not None:
            return "vector"
        if self.reference_audio is not None:
            return "reference"
        return "description"

    def with_intensity(self, intensity: float | None) -> Emotion:
        """The same emotion at another intensity (None: defer to the service setting)."""
        return replace(self, intensity=intensity)

    def raw_vector(self) -> tuple[float, ...] | None:
        """The vector as given (presets expanded), before normalisation and intensity."""
        if self.preset is not None:
            return PRESETS[self.preset]
        return self.vector

    def model_vector(self) -> tuple[float, ...] | None:
        """The normalised vector scaled by intensity, as a model should receive it.

        None for reference-clip and description emotions (the model derives those itself).
        """
        raw = self.raw_vector()
        if raw is None:
            return None
        scale = 1.0 if self.intensity is None else self.intensity
        return tuple(v * scale for v in normalize_emotion_vector(raw))

    def label(self) -> str:
        """A short human-readable name, for logs and UIs."""
        if self.preset is not None:
            name = self.preset
        elif self.vector is not None:
            name = "vector(" + ", ".join(f"{v:g}" for v in self.vector) + ")"
        elif self.reference_audio is not None:
            name = f"reference({self.reference_audio.name})"
        else:
            name = f"description({self.description!r})"
        return name if self.intensity is None else f"{name}@{self.intensity:g}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form that `Emotion.parse` reads back."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.preset is not None:
            out["preset"] = self.preset
        if self.vector is not None:
            out["vector"] = list(self.vector)
        if self.reference_audio is not None:
            out["reference_audio"] = str(self.reference_audio)
        if self.description is not None:
            out["description"] = self.description
        if self.intensity is not None:
            out["intensity"] = self.intensity
        return out

    @classmethod
    def parse(cls, value: Any, *, clips: ClipLookup | None = None) -> Emotion:
        """Read an emotion from an `Emotion`, a preset name, 8 numbers, or a mapping.

        A string may carry an intensity after a colon (`"sad:0.5"`). A mapping takes the keys
        `preset`, `vector`, `reference_audio`, `description` (one of them) and `intensity`.
        Input from the network passes `clips`: a reference clip is then *named* with `reference`
        (an uploaded voice, resolved by `clips`) and file paths are refused, so a client can
        neither read the server's files nor probe which exist.
        """
        if isinstance(value, Emotion):
            return value
        if value is None:
            return cls(preset="neutral")
        if isinstance(value, str):
            name, _, level = value.strip().lower().partition(":")
            intensity = _parse_level(level) if level else None
            return cls(preset=name, intensity=intensity)
        if isinstance(value, Mapping):
            allowed = {"preset", "vector", "description", "intensity", "mode"}
            allowed |= {"reference"} if clips is not None else {"reference_audio"}
            unknown = set(value) - allowed
            if unknown:
                raise EmotionError(
                    f"unknown emotion field(s) {sorted(unknown)}; valid fields: "
                    f"{', '.join(sorted(allowed - {'mode'}))}"
                )
            fields = {k: v for k, v in value.items() if k != "mode" and v is not None}
            if isinstance(fields.get("preset"), str):
                fields["preset"] = fields["preset"].strip().lower()
            if "vector" in fields:
                fields["vector"] = _as_sequence(fields["vector"])
            if "reference" in fields:
                name = fields.pop("reference")
                path = clips(name) if isinstance(name, str) and clips is not None else None
                if path is None:
                    raise EmotionError(
                        f"unknown reference clip {name!r}: name an uploaded voice clip"
                    )
                fields["reference_audio"] = path
            return cls(**fields)
        if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
            return cls(vector=_as_sequence(value))
        raise EmotionError(
            f"cannot read an emotion from {type(value).__name__}; give a preset name "
            f"({', '.join(PRESETS)}), {len(EMOTION_DIMENSIONS)} numbers, or a mapping"
        )


def _as_sequence(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise EmotionError(
            f"an emotion vector is a list of {len(EMOTION_DIMENSIONS)} numbers "
            f"({', '.join(EMOTION_DIMENSIONS)})"
        )
    return tuple(value)


def _parse_level(level: str) -> float:
    try:
        return float(level)
    except ValueError:
        raise EmotionError(f"emotion intensity must be a number in [0, 1], got {level!r}") from None


NEUTRAL = Emotion(preset="neutral")
