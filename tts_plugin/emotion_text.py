"""Estimate an emotion vector from a free-text description, without a model.

IndexTTS2 scores descriptions with its Qwen emotion model. Engines that lack it (the embedded engine,
or an IndexTTS2 model dir without `qwen0.6bemo4-merge/`) use this keyword lexicon instead: each word
of the description that names a feeling adds weight to one of the eight dimensions.
"""

from __future__ import annotations

import re

from tts_plugin.emotion import EMOTION_DIMENSIONS, Emotion, EmotionError

_LEXICON: dict[str, dict[str, float]] = {
    "happy": {
        "happy": 1,
        "joy": 1,
        "joyful": 1,
        "cheerful": 1,
        "glad": 0.8,
        "delighted": 1,
        "excited": 0.8,
        "upbeat": 0.8,
        "warm": 0.5,
        "playful": 0.7,
        "开心": 1,
        "高兴": 1,
        "快乐": 1,
    },
    "angry": {
        "angry": 1,
        "furious": 1,
        "mad": 0.8,
        "annoyed": 0.6,
        "irritated": 0.6,
        "frustrated": 0.6,
        "rage": 1,
        "生气": 1,
        "愤怒": 1,
    },
    "sad": {
        "sad": 1,
        "unhappy": 0.8,
        "sorrowful": 1,
        "crying": 1,
        "tearful": 1,
        "heartbroken": 1,
        "grief": 1,
        "upset": 0.6,
        "伤心": 1,
        "难过": 1,
        "悲伤": 1,
    },
    "afraid": {
        "afraid": 1,
        "scared": 1,
        "fearful": 1,
        "nervous": 0.7,
        "anxious": 0.7,
        "terrified": 1,
        "worried": 0.6,
        "害怕": 1,
        "紧张": 0.7,
    },
    "disgusted": {"disgusted": 1, "disgust": 1, "grossed": 0.8, "repulsed": 1, "恶心": 1},
    "melancholic": {
        "melancholic": 1,
        "melancholy": 1,
        "wistful": 0.8,
        "nostalgic": 0.6,
        "gloomy": 0.8,
        "lonely": 0.7,
        "忧郁": 1,
    },
    "surprised": {
        "surprised": 1,
        "amazed": 1,
        "astonished": 1,
        "shocked": 0.8,
        "wow": 0.6,
        "惊讶": 1,
        "吃惊": 1,
    },
    "calm": {
        "calm": 1,
        "relaxed": 0.8,
        "soothing": 0.9,
        "gentle": 0.7,
        "peaceful": 0.9,
        "serene": 0.9,
        "quiet": 0.5,
        "平静": 1,
        "温柔": 0.7,
    },
}
_INTENSIFIERS = {"very": 1.0, "extremely": 1.0, "really": 0.9, "slightly": 0.4, "a bit": 0.4}


def estimate_vector(description: str) -> tuple[float, ...]:
    """Score a description on the eight dimensions (all zeros when no word is known)."""
    text = description.lower()
    words = set(re.findall(r"[a-z]+", text))
    scores = dict.fromkeys(EMOTION_DIMENSIONS, 0.0)
    for dimension, entries in _LEXICON.items():
        for word, weight in entries.items():
            hit = word in words if word.isascii() else word in text
            if hit:
                scores[dimension] = max(scores[dimension], weight)
    scale = next((v for k, v in _INTENSIFIERS.items() if k in text), 0.75)
    return tuple(min(1.0, scores[d] * scale) for d in EMOTION_DIMENSIONS)


def description_as_vector(emotion: Emotion) -> Emotion:
    """The vector emotion a description stands for, keeping its intensity."""
    if emotion.description is None:
        raise EmotionError("only a description emotion can be estimated from text")
    return Emotion(vector=estimate_vector(emotion.description), intensity=emotion.intensity)
