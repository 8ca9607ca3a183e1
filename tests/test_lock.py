"""constraints.txt (the lock the README installs from) agrees with pyproject.toml's ranges, and the
environment running the suite is the locked one."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parent.parent


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and ";" not in line and "@" not in line, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    """Every requirement pyproject.toml declares (base and all extras), but its own extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    requirements = [Requirement(line) for line in lines]
    own = canonicalize_name(project["name"])
    return [r for r in requirements if canonicalize_name(r.name) != own]


def test_the_lock_pins_every_declared_dependency_within_its_range():
    lock = _lock()
    applicable = [r for r in _declared() if r.marker is None or r.marker.evaluate()]
    missing = sorted({r.name for r in applicable if canonicalize_name(r.name) not in lock})
    assert not missing, f"pyproject.toml names packages the lock lacks: {missing}"
    outside = [
        f"{r} (locked {lock[canonicalize_name(r.name)]})"
        for r in applicable
        if not r.specifier.contains(lock[canonicalize_name(r.name)], prereleases=True)
    ]
    assert not outside, f"locked versions outside pyproject.toml's ranges: {outside}"


def test_the_suite_runs_on_the_locked_versions():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drifted = [
        f"{name} {installed[name]} (locked {pinned})"
        for name, pinned in _lock().items()
        if name in installed and Version(installed[name]).public != pinned.public
    ]
    assert not drifted, f"installed without the lock (pip install -c constraints.txt): {drifted}"
