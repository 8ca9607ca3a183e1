"""Who uses the shared model next: the stream whose listener would hear a gap soonest.

Every model call of the IndexTTS2 engine (a batch of decode steps, a chunk's codec → DiT → BigVGAN
work, a new request's prefill) takes one lock. Served first come first served, a stream far ahead
of its listener can take the model from one about to run dry. `DeadlineLock` serves waiters by key
instead, and `StreamClock` gives each stream its key: a request's start-up work first (voice,
emotion, prefill), then the stream whose listener's audio runs out soonest in wall time. A request
that says how much audio its listener still has queued (`SynthesisRequest.ahead_seconds`: a reply's
next sentence while the last one plays) is timed from there, so a session's clock spans its
sentences; one that does not say is served, before its first audio, ahead of every stream that has
spoken (oldest request first). When
the box cannot keep every stream ahead of real time, every stream's deadline slips and the one that
slipped most is served next, so they degrade evenly instead of one starving.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Iterator

Key = tuple[int, float]


def now_key() -> Key:
    """Work that starts a request (its voice, emotion, prefill) or belongs to none (warm-up): most
    urgent, first come first served. A new request's prefill is short and, once done, it shares
    every step at no cost to the others, so waiting behind their steps would only delay it."""
    return (-1, time.monotonic())


class StreamClock:
    """One stream's urgency: the wall time at which its listener's audio would have played out
    (from `ahead` seconds after its start, when known; else from its first audio, and before that
    its start time)."""

    def __init__(self, ahead: float | None = None) -> None:
        self._started = time.monotonic()
        self._first_audio = None if ahead is None else self._started + ahead
        self._sent = 0.0

    def sent(self, seconds: float) -> None:
        """Audio handed to the listener (seconds of it)."""
        if seconds <= 0:
            return
        if self._first_audio is None:
            self._first_audio = time.monotonic()
        self._sent += seconds

    def key(self) -> Key:
        if self._first_audio is None:
            return (0, self._started)
        return (1, self._first_audio + self._sent)


class DeadlineLock:
    """A re-entrant lock whose waiters are served lowest key first, not first come first served."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._waiting: list[tuple[Key, int]] = []  # a heap of (key, ticket)
        self._tickets = itertools.count()

    @contextlib.contextmanager
    def hold(self, key: Key) -> Iterator[None]:
        self.acquire(key)
        try:
            yield
        finally:
            self.release()

    def acquire(self, key: Key) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            entry = (key, next(self._tickets))
            heapq.heappush(self._waiting, entry)
            while self._owner is not None or self._waiting[0] != entry:
                self._cond.wait()
            heapq.heappop(self._waiting)
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("DeadlineLock released by a thread that does not hold it")
            self._depth -= 1
            if not self._depth:
                self._owner = None
                self._cond.notify_all()
