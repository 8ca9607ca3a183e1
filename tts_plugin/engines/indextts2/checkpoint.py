"""Weights from a checkpoint into our IndexTTS-2 modules, accepting what real checkpoints carry.

Upstream's loaders are lenient: the GPT's `load_checkpoint` loads with `strict=False` (extra keys
such as the training-only text head are skipped, missing ones only printed) and s2mel's
`load_checkpoint2` strips DistributedDataParallel's `module.` prefix and drops keys whose shape does
not match, also with `strict=False` (index-tts `indextts/utils/checkpoint.py`,
`indextts/s2mel/modules/commons.py`). A checkpoint written by another training run may carry any of
those. Here the same variants load (prefix stripped, extra keys skipped and logged), but a missing
or misshapen weight is an error that names it: upstream would run with that layer left random.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger
from torch import nn

from tts_plugin.engine import EngineError

WRAPPER = "module."  # what DistributedDataParallel puts before every key
_SHOWN = 5


def unwrapped(key: str, prefixes: tuple[str, ...] = (WRAPPER,)) -> str:
    """`key` without a leading wrapper prefix."""
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def load_weights(module: nn.Module, weights: dict, source: Path, part: str) -> None:
    """Load `weights` into `module`: every one of its parameters and buffers, from `source`."""
    weights = {unwrapped(k): v for k, v in weights.items()}
    expected = module.state_dict()
    extra = sorted(set(weights) - set(expected))
    if extra:
        logger.info(
            f"{source.name} ({part}): skipping {len(extra)} keys we do not use: {extra[:_SHOWN]}"
        )
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise EngineError(
            f"{source} lacks {len(missing)} weights of {part}, e.g. {missing[:_SHOWN]}: "
            "not a checkpoint of this model, or a damaged file"
        )
    misshapen = [
        f"{k} {tuple(weights[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if weights[k].shape != v.shape
    ]
    if misshapen:
        raise EngineError(
            f"{source}: {len(misshapen)} weights of {part} do not fit its config.yaml, e.g. "
            f"{misshapen[:_SHOWN]}"
        )
    module.load_state_dict({k: weights[k] for k in expected})
