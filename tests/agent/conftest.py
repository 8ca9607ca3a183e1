"""A real agent process on loopback, and speech to say to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from agent.llm_server import free_port
from tts_plugin.engine import SynthesisRequest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningAgent:
    url: str
    process: subprocess.Popen
    log: Path

    def health(self) -> dict:
        import json

        with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
            return json.loads(response.read())

    def llm_server_pid(self) -> int:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid), "-f", "llama_cpp.server"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert out, "no llama.cpp server child"
        return int(out[0])


def start_agent(tmp_path: Path, *overrides: str, timeout: float = 120.0) -> RunningAgent:
    port = free_port()
    log = tmp_path / "agent.log"
    args = [sys.executable, "-m", "agent", "--port", str(port), "--log-level", "DEBUG"]
    for item in overrides:
        args += ["--set", item]
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    agent = RunningAgent(url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"agent exited early:\n{log.read_text()[-3000:]}")
        try:
            if agent.health()["status"] == "ok":
                return agent
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise TimeoutError(f"agent not healthy in {timeout} s:\n{log.read_text()[-3000:]}")


def stop_agent(agent: RunningAgent) -> None:
    agent.process.send_signal(signal.SIGINT)
    try:
        agent.process.wait(15)
    except subprocess.TimeoutExpired:
        agent.process.kill()
        agent.process.wait()


@pytest.fixture(scope="module")
def running_agent(tmp_path_factory):
    agent = start_agent(
        tmp_path_factory.mktemp("agent"),
        "server.max_sessions=2",
        "llm.restart_delay_secs=6",
    )
    yield agent
    stop_agent(agent)


@pytest.fixture(scope="session")
def speech(embedded_engine):
    """Say a sentence with the embedded engine: int16 at 22050 Hz, the test's 'user voice'."""

    def say(text: str) -> np.ndarray:
        chunks = embedded_engine.stream(SynthesisRequest(text=text), threading.Event())
        return np.concatenate(list(chunks))

    return say
