"""Speech to say to the agent."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tts_plugin.engine import SynthesisRequest


@pytest.fixture(scope="session")
def speech(embedded_engine):
    """Say a sentence with the embedded engine: int16 at 22050 Hz, the test's 'user voice'."""

    def say(text: str) -> np.ndarray:
        chunks = embedded_engine.stream(SynthesisRequest(text=text), threading.Event())
        return np.concatenate(list(chunks))

    return say
