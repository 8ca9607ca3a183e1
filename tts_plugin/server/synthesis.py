"""Run one engine request from async code: a chunk per worker-thread step, cancelled on exit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tts_plugin.engine import SynthesisRequest, TTSEngine


async def synthesize(
    engine: TTSEngine, request: SynthesisRequest, executor: ThreadPoolExecutor
) -> AsyncIterator[np.ndarray]:
    """Yield int16 chunks; leaving early (a client gone, a task cancelled) stops the engine."""
    cancel = threading.Event()
    chunks = engine.stream(request, cancel)
    loop = asyncio.get_running_loop()
    try:
        while (chunk := await loop.run_in_executor(executor, next, chunks, None)) is not None:
            yield chunk
    finally:
        # The engine sees the flag at its next step; close runs after any chunk still in flight.
        cancel.set()
        executor.submit(chunks.close)
