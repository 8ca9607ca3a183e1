"""A bounded job queue: a few syntheses at once, a short wait list, and a clear "full" answer.

A GPU box serves many agents; past its capacity a request should learn at once that it must retry
(429 + Retry-After) instead of queueing behind minutes of work. A request takes its place (a
`Ticket`) before any byte of its answer is sent: a streamed answer that has already said 200 can no
longer say 429.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType


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
        self.on_wait: Callable[[float], None] | None = None  # each admitted job's wait, in s

    @property
    def full(self) -> bool:
        """Every slot is busy or promised and the wait list is full: a new job would be refused."""
        return self.running + self.waiting >= self.max_concurrent + self.max_waiting

    def reserve(self) -> Ticket:
        """A place in the queue, taken now, or `QueueFull`. Run the job with `async with ticket`;
        `close()` gives the place back if the job never runs (both are safe to repeat)."""
        if self.full:
            raise QueueFull(self.retry_after_secs)
        self.waiting += 1
        return Ticket(self)


class Ticket:
    """One job's place: waiting until `async with` holds a slot, given back when it ends."""

    def __init__(self, queue: JobQueue):
        self._queue = queue
        self._state = "waiting"
        self._since = time.monotonic()

    async def __aenter__(self) -> None:
        if self._state != "waiting":
            raise RuntimeError(f"a ticket runs once (this one is {self._state})")
        await self._queue._slots.acquire()
        if self._state != "waiting":  # closed while it waited: hand the slot on
            self._queue._slots.release()
            raise asyncio.CancelledError
        self._queue.waiting -= 1
        self._queue.running += 1
        self._state = "running"
        if self._queue.on_wait:
            self._queue.on_wait(time.monotonic() - self._since)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Give the place back: the waiting place, or the running slot."""
        if self._state == "waiting":
            self._queue.waiting -= 1
        elif self._state == "running":
            self._queue.running -= 1
            self._queue._slots.release()
        self._state = "closed"
