"""The server's async driver closes an engine's generator once no worker runs it, with several
workers (`--max-concurrent` > 1) as with one."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tts_plugin.engine import SynthesisRequest
from tts_plugin.server.synthesis import synthesize


class SlowEngine:
    """One chunk per 0.3 s; records when its generator is closed and if a step saw the cancel."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.in_step = threading.Event()

    def stream(self, request, cancel):
        try:
            while True:
                self.in_step.set()
                time.sleep(0.3)
                yield np.zeros(10, np.int16)
        finally:
            self.closed.set()


async def test_a_cancel_mid_chunk_closes_the_generator_after_the_chunk_with_two_workers():
    engine = SlowEngine()
    executor = ThreadPoolExecutor(max_workers=2)

    async def consume():
        async for _ in synthesize(engine, SynthesisRequest("Hello."), executor):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.45)  # the second chunk's step is in flight on a worker
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # A close on the other worker now would fail ("generator already executing") and never close.
    assert await asyncio.to_thread(engine.closed.wait, 2.0)
    executor.shutdown(wait=True)
