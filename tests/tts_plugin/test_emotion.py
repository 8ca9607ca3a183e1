"""The Emotion value type: presets, vectors, normalisation, parsing and clear errors."""

from __future__ import annotations

import math

import pytest

from tts_plugin.emotion import (
    EMOTION_BIAS,
    EMOTION_DIMENSIONS,
    MAX_EMOTION_SUM,
    PRESETS,
    Emotion,
    EmotionError,
    normalize_emotion_vector,
)
from tts_plugin.emotion_text import description_as_vector, estimate_vector

REQUIRED_PRESETS = {
    "neutral", "happy", "sad", "angry", "afraid", "disgusted", "melancholic",
    "surprised", "calm", "excited", "serious", "lively",
}  # fmt: skip


def test_required_presets_exist_and_map_to_valid_vectors():
    assert set(PRESETS) >= REQUIRED_PRESETS
    for name in PRESETS:
        vector = Emotion(preset=name).raw_vector()
        assert len(vector) == 8 and all(0 <= v <= 1 for v in vector)
    assert Emotion(preset="sad").raw_vector()[EMOTION_DIMENSIONS.index("sad")] == 1.0
    assert sum(Emotion(preset="neutral").raw_vector()) == 0


def test_normalisation_applies_the_bias_then_caps_the_sum():
    # One emotion alone: bias only (0.5 * 0.9375 < cap).
    assert normalize_emotion_vector([0.5, 0, 0, 0, 0, 0, 0, 0])[0] == pytest.approx(0.46875)
    # All at 1: biased sum is 6.875, scaled down to the cap, proportions kept.
    normalised = normalize_emotion_vector([1.0] * 8)
    assert sum(normalised) == pytest.approx(MAX_EMOTION_SUM)
    ratios = [n / b for n, b in zip(normalised, EMOTION_BIAS, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios))


def test_model_vector_is_normalised_and_scaled_by_intensity():
    full = Emotion(preset="happy").model_vector()
    assert full[0] == pytest.approx(0.8)  # 0.9375 capped at 0.8
    half = Emotion(preset="happy", intensity=0.5).model_vector()
    assert half[0] == pytest.approx(0.4)
    assert Emotion(description="cheerful").model_vector() is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SAD", Emotion(preset="sad")),
        ("sad:0.25", Emotion(preset="sad", intensity=0.25)),
        (None, Emotion(preset="neutral")),
        ([0, 0, 0, 0, 0, 0, 0.5, 0], Emotion(vector=(0, 0, 0, 0, 0, 0, 0.5, 0))),
        ({"preset": "calm", "intensity": 0.3}, Emotion(preset="calm", intensity=0.3)),
        ({"mode": "vector", "vector": [1, 0, 0, 0, 0, 0, 0, 0]}, Emotion(vector=(1,) + (0,) * 7)),
        ({"description": "a bit nervous"}, Emotion(description="a bit nervous")),
    ],
)
def test_parse_reads_every_form(value, expected):
    assert Emotion.parse(value) == expected


def test_to_dict_round_trips():
    for emotion in (Emotion(preset="sad", intensity=0.4), Emotion(vector=(0.1,) * 8)):
        assert Emotion.parse(emotion.to_dict()) == emotion


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("furious", "valid presets: neutral, happy, sad"),
        ([0.1] * 7, "has 8 values"),
        ([0.1] * 9, "has 8 values"),
        ([math.nan] + [0] * 7, "'happy' must be in [0, 1]"),
        ([0, 0, -0.1, 0, 0, 0, 0, 0], "'sad' must be in [0, 1]"),
        ([0, 0, 0, 0, 0, 0, 0, 1.5], "'calm' must be in [0, 1]"),
        (["x"] + [0] * 7, "must be a number"),
        ("sad:loud", "intensity must be a number"),
        ("sad:2", "intensity must be in [0, 1]"),
        ({"preset": "sad", "vector": [0] * 8}, "exactly one of"),
        ({"tone": "sad"}, "unknown emotion field"),
        ({"description": ""}, "1 to 200 characters"),
        ({"reference_audio": "/no/such/clip.wav"}, "reference clip not found"),
        (42, "cannot read an emotion"),
    ],
)
def test_invalid_emotions_are_clear_errors(value, message):
    with pytest.raises(EmotionError) as error:
        Emotion.parse(value)
    assert message in str(error.value)


def test_description_maps_to_the_named_feelings():
    vector = estimate_vector("very sad and a little afraid")
    assert vector[EMOTION_DIMENSIONS.index("sad")] == 1.0
    assert vector[EMOTION_DIMENSIONS.index("afraid")] > 0
    assert vector[EMOTION_DIMENSIONS.index("happy")] == 0
    assert sum(estimate_vector("just read it")) == 0
    as_vector = description_as_vector(Emotion(description="开心", intensity=0.5))
    assert as_vector.vector[0] > 0 and as_vector.intensity == 0.5
