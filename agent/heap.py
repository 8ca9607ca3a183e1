"""Give a finished session's memory back at once, without stalling the sessions still running.

A Pipecat pipeline and its aiortc peer end as reference cycles (event handlers, tasks, RTP
packets, sockets: ~2000 objects a session) that only a full collection frees; CPython runs one
rarely, so each session's buffers stayed resident for many sessions after it (+10 MiB a session
over the first ~15, docs/benchmarks.md). A full collection after each session frees them, and
freezing the heap that start-up built (models, modules) keeps that collection short: it scans
only what was allocated since.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time

from loguru import logger

# glibc keeps freed memory in its arenas; malloc_trim hands what it can back to the system.
_libc_name = ctypes.util.find_library("c")
_malloc_trim = getattr(ctypes.CDLL(_libc_name), "malloc_trim", None) if _libc_name else None


def freeze_startup_heap() -> None:
    """Move everything alive now out of the collector's sight (it lives as long as the process)."""
    gc.collect()
    gc.freeze()
    logger.debug(f"Froze {gc.get_freeze_count()} start-up objects out of garbage collection")


def collect_session_garbage() -> int:
    """A full collection; returns the objects freed."""
    started = time.perf_counter()
    freed = gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    logger.debug(f"Freed {freed} objects in {(time.perf_counter() - started) * 1000:.0f} ms")
    return freed
