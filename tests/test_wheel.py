"""A built wheel runs: installed into a fresh venv, used from another directory, it starts the agent
on its default profile, serves the page, and speaks through `python -m tts_plugin say`.

The venv sees the running suite's packages for the dependencies (a `.pth` naming the suite's own
site-packages, whether the suite runs in a venv or in the machine's Python: `--system-site-packages`
would name the base interpreter's, which a venv's suite does not use), so the test needs no network.
The project itself comes only from the wheel: a `.pth` path line appends its directory after the
venv's own site-packages and processes no `.pth` inside it (the editable install's hook included), and
the check below proves the modules load from the venv."""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
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
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    _see_suite_packages(python)
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


def _see_suite_packages(python: str) -> None:
    """Let the venv at `python` import what the running suite can (its site-packages, appended)."""
    venv_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    paths = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    (Path(venv_site) / "suite-packages.pth").write_text("\n".join(paths) + "\n")
