"""A real agent process on loopback, and speech to say to it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agent.process import start_agent
from tts_plugin.engine import SynthesisRequest


@pytest.fixture(scope="module")
def running_agent(tmp_path_factory):
    agent = start_agent(
        tmp_path_factory.mktemp("agent") / "agent.log",
        "server.max_sessions=2",
        "llm.restart_delay_secs=6",
    )
    yield agent
    agent.stop()


@pytest.fixture(scope="session")
def speech(embedded_engine):
    """Say a sentence with the embedded engine: int16 at 22050 Hz, the test's 'user voice'."""

    def say(text: str) -> np.ndarray:
        chunks = embedded_engine.stream(SynthesisRequest(text=text), threading.Event())
        return np.concatenate(list(chunks))

    return say
