"""Frames the IndexTTS2 service understands beyond Pipecat's own."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import TTSSpeakFrame

from tts_plugin.emotion import Emotion


@dataclass
class EmotionalSpeakFrame(TTSSpeakFrame):
    """A `TTSSpeakFrame` spoken in its own emotion (that utterance only), e.g. from a UI.

    Parameters:
        emotion: The emotion for this utterance; None speaks it in the current setting.
    """

    emotion: Emotion | None = None
