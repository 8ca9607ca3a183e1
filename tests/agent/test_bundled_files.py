"""Split model files: joined once, accepted only as the recorded file, refused clearly otherwise."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from agent.bundled_files import BundledFileError, SplitFile
from agent.llm_server import BUNDLED_LLMS, LLMServerError, bundled_gguf

# Two parts in a package of this suite's own (tests/ is on sys.path): small, so each test can corrupt them.
PARTS = (("split_parts", "a.bin"), ("split_parts", "b.bin"))


@pytest.fixture
def parts(tmp_path, monkeypatch):
    package = tmp_path / "pkgs" / "split_parts"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('a data package is never imported')\n")
    (package / "a.bin").write_bytes(b"first half|")
    (package / "b.bin").write_bytes(b"second half")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    return package


def split(size: int = 22, sha256: str | None = None) -> SplitFile:
    digest = sha256 or hashlib.sha256(b"first half|second half").hexdigest()
    return SplitFile("joined.bin", PARTS, size, digest, "pip install split-parts")


def test_parts_join_in_order_once(parts, tmp_path):
    path = split().path(tmp_path / "cache")
    assert path.read_bytes() == b"first half|second half"
    (parts / "a.bin").unlink()  # joined already: the parts are not read again
    assert split().path(tmp_path / "cache") == path


def test_parts_that_join_to_another_file_are_refused_and_nothing_is_left(parts, tmp_path):
    (parts / "b.bin").write_bytes(b"second HALF")
    with pytest.raises(
        BundledFileError, match="not the recorded 22 bytes.*pip install split-parts"
    ):
        split().path(tmp_path / "cache")
    # Only the (empty) lock file stays: no partial or unverified join.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["joined.bin.lock"]


def test_a_missing_part_names_the_install_command(parts, tmp_path):
    (parts / "b.bin").unlink()
    with pytest.raises(BundledFileError, match="b.bin is missing: pip install split-parts"):
        split().path(tmp_path / "cache")


def test_a_cached_file_changed_after_joining_is_joined_again(parts, tmp_path):
    path = split().path(tmp_path / "cache")
    path.write_bytes(b"first half|SECOND half")
    os.utime(path, ns=(1, 1))
    assert split().path(tmp_path / "cache").read_bytes() == b"first half|second half"


def test_the_default_llm_is_the_recorded_qwen_gguf():
    path = bundled_gguf("qwen2.5-coder-0.5b-instruct")
    assert path.stat().st_size == BUNDLED_LLMS["qwen2.5-coder-0.5b-instruct"].size
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_an_unknown_bundled_llm_is_a_clear_error():
    with pytest.raises(LLMServerError, match="'gpt-5' is not bundled.*llm.gguf"):
        bundled_gguf("gpt-5")


def test_agents_started_at_once_join_the_file_once(parts, tmp_path):
    # Two processes, as two agents on one machine: each joins through a slow part read, so without
    # the lock both write the same .partial at once.
    script = f"""
import sys, time
sys.path.insert(0, {str(tmp_path / "pkgs")!r})
import agent.bundled_files as b
slow = b.package_file
b.package_file = lambda *a: (time.sleep(0.5), slow(*a))[1]
digest = {split().sha256!r}
path = b.SplitFile("joined.bin", {PARTS!r}, 22, digest, "hint").path(b.Path({str(tmp_path / "cache")!r}))
print(path.stat().st_ino, path.read_bytes().decode())
"""
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0].split(maxsplit=1) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    # One file, joined once (the same inode for both), whole.
    assert outputs[0] == outputs[1] and outputs[0][1] == "first half|second half\n"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "joined.bin", "joined.bin.lock", "joined.bin.verified"
    ]  # fmt: skip
