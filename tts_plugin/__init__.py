"""pipecat-indextts2: an IndexTTS2 streaming TTS service for Pipecat, with emotion and barge-in."""

from tts_plugin.emotion import EMOTION_DIMENSIONS, PRESETS, Emotion, EmotionError
from tts_plugin.engine import (
    EngineCapabilities,
    EngineError,
    SynthesisRequest,
    TTSEngine,
)

__all__ = [
    "EMOTION_DIMENSIONS",
    "PRESETS",
    "Emotion",
    "EmotionError",
    "EngineCapabilities",
    "EngineError",
    "IndexTTS2TTSService",
    "SynthesisRequest",
    "TTSEngine",
]


def __getattr__(name: str):
    # The service pulls in Pipecat; importing the emotion/engine types should not.
    if name == "IndexTTS2TTSService":
        from tts_plugin.service import IndexTTS2TTSService

        return IndexTTS2TTSService
    raise AttributeError(name)
