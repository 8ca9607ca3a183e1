"""A fake engine with scripted timing, for service tests (kept in tests/, never shipped).

Each chunk is `steps_per_chunk` sleeps of `step_seconds` ("decode steps") with the cancel flag checked
before every step, like the real engines. It records every request and when each chunk started,
finished, or saw the cancel flag, so tests can prove where synthesis stopped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from tts_plugin.engine import EngineCapabilities, EngineError, SynthesisRequest


@dataclass
class EngineEvent:
    kind: str  # "chunk_start", "chunk_done", "cancelled"
    at: float
    request: int
    chunk: int


@dataclass
class ScriptedEngine:
    chunks: int = 3
    steps_per_chunk: int = 2
    step_seconds: float = 0.005
    chunk_samples: int = 2205
    fail_marker: str = "FAIL"
    name: str = "scripted"
    sample_rate: int = 22050
    capabilities: EngineCapabilities = field(
        default_factory=lambda: EngineCapabilities(
            emotion_modes=frozenset({"preset", "vector", "description"}),
            languages=("en", "zh"),
            voices=("alice", "bob"),
            max_chunk_seconds=1.0,
        )
    )
    requests: list[SynthesisRequest] = field(default_factory=list)
    events: list[EngineEvent] = field(default_factory=list)
    loads: int = 0

    def load(self) -> None:
        self.loads += 1

    def stream(self, request: SynthesisRequest, cancel: threading.Event):
        index = len(self.requests)
        self.requests.append(request)
        if self.fail_marker in request.text:
            raise EngineError("scripted failure")
        for chunk in range(self.chunks):
            self.events.append(EngineEvent("chunk_start", time.monotonic(), index, chunk))
            for _ in range(self.steps_per_chunk):
                if cancel.is_set():
                    self.events.append(EngineEvent("cancelled", time.monotonic(), index, chunk))
                    return
                time.sleep(self.step_seconds)
            self.events.append(EngineEvent("chunk_done", time.monotonic(), index, chunk))
            yield np.full(self.chunk_samples, 100 * (index + 1) + chunk, dtype=np.int16)

    def of_request(self, index: int, kind: str) -> list[EngineEvent]:
        return [e for e in self.events if e.request == index and e.kind == kind]


class FlakyEngine:
    """Wraps an engine; its first stream breaks after one chunk, like a replica that died mid-reply."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.name = engine.name
        self.sample_rate = engine.sample_rate
        self.capabilities = engine.capabilities
        self.broken = 0

    def load(self) -> None:
        self._engine.load()

    def stream(self, request: SynthesisRequest, cancel: threading.Event):
        chunks = self._engine.stream(request, cancel)
        if self.broken:
            yield from chunks
            return
        self.broken += 1
        yield next(chunks)
        chunks.close()
        raise EngineError("the replica died")
