"""Concurrent requests on one IndexTTS GPT share every decode step.

A decode step is bound by reading the GPT's weights (and on a GPU by launching its kernels), not
by the rows it computes: one pass for N requests costs about what one costs. Each request's thread
asks for its step here; whichever thread finds no batch running becomes the leader, takes the
model (in deadline order, `deadlines.py`), waits a moment for the other requests that are still
decoding to ask too, and runs all of them in one pass (`KVPool.step`), each over its own slot of the
KV pool. A request joins after its prefill, leaves when it stops, finishes, hits its code budget or
is cancelled (its slot goes back to the pool then); while it does chunk work (codec, DiT, BigVGAN)
it is away and nobody waits for it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from loguru import logger

from tts_plugin.engines.indextts2.deadlines import Key, StreamClock, now_key
from tts_plugin.engines.indextts2.generation import CodeDecoder

# How long a leader waits for the requests still sampling their last code (~1 ms each).
GATHER_SECONDS = 0.004


class _Job:
    """One request's step: its decoder, the code to feed, then the logits or the error."""

    def __init__(self, decoder: CodeDecoder, code: object) -> None:
        self.decoder, self.code = decoder, code
        self.done = False
        self.logits: object = None
        self.error: BaseException | None = None


class StepBatcher:
    """Batches the decode steps of every request decoding on one model."""

    def __init__(
        self,
        model_call: Callable[[Key], AbstractContextManager],
        max_batch: int = 8,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._model_call = model_call
        self._max_batch = max_batch
        self._gather = gather_seconds
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._joined: dict[int, StreamClock] = {}  # id(decoder) → its stream's clock
        self._away: set[int] = set()
        self._leading = False
        self.batch_sizes: deque[int] = deque(maxlen=4096)  # the most recent steps' batch sizes

    def start(self, decoder: CodeDecoder, clock: StreamClock) -> object:
        """The request's prefill (alone: prompts are ragged), then it joins; the first logits."""
        with self._model_call(now_key()):
            logits = decoder.start()
        with self._cond:
            self._joined[id(decoder)] = clock
        return logits

    def leave(self, decoder: CodeDecoder) -> None:
        """The request decodes no more: out of the batches, its slot back to the pool (which moves
        another request's keys and values, so under the model)."""
        with self._cond:
            self._joined.pop(id(decoder), None)
            self._away.discard(id(decoder))
            self._cond.notify_all()
        with self._model_call(now_key()):
            decoder.cache.release()

    @contextlib.contextmanager
    def away(self, decoder: CodeDecoder) -> Iterator[None]:
        """The request is busy elsewhere (its code is being vocoded): batches do not wait for it."""
        with self._cond:
            self._away.add(id(decoder))
        try:
            yield
        finally:
            with self._cond:
                self._away.discard(id(decoder))

    def step(self, decoder: CodeDecoder, code: object) -> object:
        """Feed `code` to `decoder` in the next batch; the logits of its next code."""
        job = _Job(decoder, code)
        with self._cond:
            self._pending.append(job)
            self._cond.notify_all()
            while self._leading and not job.done:
                self._cond.wait()
            leader = not job.done
            self._leading = self._leading or leader
        if leader:
            try:
                self._lead(job)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.logits

    def _lead(self, job: _Job) -> None:
        """Take the model, gather the steps of every request still decoding, run them as one."""
        with self._cond:
            key = min(self._key(j) for j in self._pending)
        try:
            with self._model_call(key):
                batch = self._gather_batch(job)
                try:
                    results = self._run(batch)
                except Exception as e:  # every request in the batch hears of it
                    for member in batch:
                        member.error = e
                else:
                    for member, logits in zip(batch, results, strict=True):
                        member.logits = logits
        except BaseException as e:  # the model call itself failed: our own job at least
            job.error = e
            batch = [job]
        with self._cond:
            for member in batch:
                member.done = True
            self._pending = [j for j in self._pending if not j.done]
            self._cond.notify_all()

    def _gather_batch(self, job: _Job) -> list[_Job]:
        deadline = time.monotonic() + self._gather
        with self._cond:
            while (
                len(self._pending) < self._decoding() and (left := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(left)
            others = sorted((j for j in self._pending if j is not job), key=self._key)
            return [job, *others[: self._max_batch - 1]]

    def _decoding(self) -> int:
        """Requests that will ask for a step soon: joined and not away."""
        return sum(1 for d in self._joined if d not in self._away)

    def _key(self, job: _Job) -> Key:
        clock = self._joined.get(id(job.decoder))
        return clock.key() if clock else now_key()

    def _run(self, batch: list[_Job]) -> list[object]:
        self.batch_sizes.append(len(batch))
        if len(batch) == 1:
            return [batch[0].decoder.step(batch[0].code)]
        logger.trace(f"IndexTTS2 decode step for {len(batch)} requests")
        rows = [member.decoder.step_input(member.code) for member in batch]
        caches = [member.decoder.cache for member in batch]
        hidden = caches[0].pool.step(caches, rows)
        return [member.decoder.step_output(h) for member, h in zip(batch, hidden, strict=True)]
