"""The page's committed bundle (web_client/assets/app.js) is what its source and lockfile build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WEB = Path(__file__).resolve().parents[2] / "web_client"


def test_the_committed_bundle_is_built_from_the_source(tmp_path):
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: the bundle check needs Node.js and npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(WEB / name, tmp_path / name)
    shutil.copytree(WEB / "src", tmp_path / "src")
    (tmp_path / "assets").mkdir()
    for command in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    built = (tmp_path / "assets" / "app.js").read_bytes()
    assert built == (WEB / "assets" / "app.js").read_bytes(), (
        "web_client/assets/app.js is stale: run `npm run build` in web_client/ and commit it"
    )
