"""Where the agent's profiles and page are: inside the installed package (`agent.configs`,
`agent.web_client`, mapped from the repo's top-level dirs by pyproject.toml), else the source
checkout's `configs/` and `web_client/` (running from a clone without installing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def data_dir(name: str) -> Path:
    """The directory of the agent's data `name` ("configs" or "web_client")."""
    spec = importlib.util.find_spec(f"agent.{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / name
