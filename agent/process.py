"""Run the agent as a child process on a free loopback port (tests and benchmarks use this)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from agent.llm_server import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class AgentProcess:
    """A running `python -m agent`, its URL and its log file."""

    url: str
    process: subprocess.Popen
    log: Path

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
            return json.loads(response.read())

    def llm_server_pid(self) -> int:
        """The supervised llama.cpp server child's pid."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid), "-f", "llama_cpp.server"],
            capture_output=True,
            text=True,
        ).stdout.split()
        if not out:
            raise RuntimeError("the agent has no llama.cpp server child")
        return int(out[0])

    def stop(self) -> None:
        """Ctrl+C, as a user would (the agent stops its LLM server), then kill after 15 s."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_agent(
    log: Path,
    *overrides: str,
    profile: str | None = None,
    timeout: float = 120.0,
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> AgentProcess:
    """Start the agent (a profile, `--set` overrides) with `python` in `cwd`; return once
    `/health` says ok."""
    port = free_port()
    args = [python, "-m", "agent", "--port", str(port), "--log-level", "DEBUG"]
    if profile:
        args += ["--profile", profile]
    for item in overrides:
        args += ["--set", item]
    process = subprocess.Popen(args, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    agent = AgentProcess(url=f"http://127.0.0.1:{port}", process=process, log=log)
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
