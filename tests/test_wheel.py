"""A built wheel runs: installed into a fresh venv, used from another directory, it starts the agent
on its default profile, serves the page, and speaks through `python -m tts_plugin say`.

The venv sees this environment's packages (`--system-site-packages`) for the dependencies, so the
test needs no network; the project itself comes only from the wheel (a venv's own site-packages come
before the system's, and the check below proves the modules load from the venv)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from agent.process import start_agent

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True,
        cwd=out,
    )  # fmt: skip
    return next(out.glob("pipecat_indextts2-*.whl"))


def test_the_wheel_holds_every_module_the_profiles_and_the_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("agent", "tts_plugin"):
        for module in (ROOT / package).rglob("*.py"):
            assert str(module.relative_to(ROOT)) in names, module
    for profile in (ROOT / "configs").glob("*.yaml"):
        assert f"agent/configs/{profile.name}" in names
    for page in ("index.html", "assets/app.js", "assets/style.css"):
        assert f"agent/web_client/{page}" in names


def test_the_installed_wheel_starts_the_agent_serves_the_page_and_speaks(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [python, "-c", "import agent.config as c, agent.server as s; print(c.CONFIG_DIR, s.WEB_CLIENT_DIR)"],
        cwd=elsewhere, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(venv)) for path in where), where

    agent = start_agent(tmp_path / "agent.log", python=python, cwd=elsewhere)
    try:
        with urllib.request.urlopen(f"{agent.url}/", timeout=10) as page:
            assert b"pipecat-indextts2" in page.read()
        with urllib.request.urlopen(f"{agent.url}/assets/app.js", timeout=10) as script:
            assert len(script.read()) > 10_000
        assert agent.health()["tts_engine"] == "embedded"
    finally:
        agent.stop()

    said = subprocess.run(
        [python, "-m", "tts_plugin", "say", "Hello from the wheel.", "--out", "hello.wav"],
        cwd=elsewhere, capture_output=True, text=True,
    )  # fmt: skip
    assert said.returncode == 0, said.stderr
    assert (elsewhere / "hello.wav").stat().st_size > 20_000
