"""A session's cyclic garbage is freed when it ends, and start-up's heap is not rescanned."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from agent.heap import collect_session_garbage, freeze_startup_heap


class _Node:
    """Stands in for a pipeline object that a handler closure points back to."""

    def __init__(self) -> None:
        self.audio = np.zeros(1_000_000, dtype=np.float32)
        self.handlers = [lambda: self]


def test_a_finished_sessions_cycles_are_freed_at_once():
    gc.disable()  # as if the collector had not come round yet
    try:
        node = _Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: reference counting alone keeps it
        assert collect_session_garbage() >= 2
        assert alive() is None
    finally:
        gc.enable()


def test_start_up_objects_are_frozen_out_of_collections():
    model = _Node()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        assert not any(o is model for o in gc.get_objects())  # frozen: not tracked for scanning
    finally:
        gc.unfreeze()
