"""Run one engine request from async code: a chunk per worker-thread step, cancelled on exit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from tts_plugin.engine import SynthesisRequest, TTSEngine


async def synthesize(
    engine: TTSEngine, request: SynthesisRequest, executor: ThreadPoolExecutor
) -> AsyncIterator[np.ndarray]:
    """Yield int16 chunks; leaving early (a client gone, a task cancelled) stops the engine.

    The engine's generator is closed only once no worker runs it: with several workers, a close
    submitted beside a chunk still in flight would meet "generator already executing" (and leave
    the generator, with its place in the shared decode step, unclosed).
    """
    cancel = threading.Event()
    chunks = engine.stream(request, cancel)
    step: Future | None = None
    try:
        while True:
            step = executor.submit(next, chunks, None)
            chunk = await asyncio.wrap_future(step)
            if chunk is None:
                break
            yield chunk
    finally:
        # The engine sees the flag at its next step; the close follows the step in flight.
        cancel.set()
        if step is None or step.done():
            executor.submit(chunks.close)
        else:
            step.add_done_callback(lambda _: chunks.close())
