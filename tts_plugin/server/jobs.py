"""A bounded job queue: a few syntheses at once, a short wait list, and a clear "full" answer.

A GPU box serves many agents; past its capacity a request should learn at once that it must retry
(429 + Retry-After) instead of queueing behind minutes of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class QueueFull(Exception):
    """Every slot is busy and the wait list is full."""

    def __init__(self, retry_after_secs: int):
        super().__init__(f"the TTS server is busy; retry in {retry_after_secs} s")
        self.retry_after_secs = retry_after_secs


class JobQueue:
    """At most `max_concurrent` jobs run; at most `max_waiting` more wait for a slot."""

    def __init__(self, max_concurrent: int = 2, max_waiting: int = 4, retry_after_secs: int = 2):
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self.retry_after_secs = retry_after_secs
        self._slots = asyncio.Semaphore(max_concurrent)
        self.running = 0
        self.waiting = 0

    @property
    def full(self) -> bool:
        """Every slot is busy and the wait list is full: a new job would be refused."""
        return self._slots.locked() and self.waiting >= self.max_waiting

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the duration of a job; raise `QueueFull` rather than wait too long."""
        if self.full:
            raise QueueFull(self.retry_after_secs)
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()
