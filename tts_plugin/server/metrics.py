"""The TTS server's Prometheus metrics at `/metrics`: what an operator scrapes to see load and speed.

Requests by operation and outcome (ok, client_gone, broken, 4xx, 429, 5xx), the queue's depth and
each request's wait for a slot, time to the first byte of an HTTP answer, and per engine the time to
a request's first audio and its real-time factor (synthesis time over audio time). One registry per
app, so several apps in one process (tests, Ray replicas) never share counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from threading import Event

import numpy as np
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from tts_plugin.engine import SynthesisRequest, TTSEngine
from tts_plugin.server.jobs import JobQueue

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0)


class ServerMetrics:
    """Counters and histograms of one server app, in a registry of its own."""

    def __init__(self, jobs: JobQueue) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tts_requests",
            "Requests by operation and outcome (ok, client_gone, broken, 4xx, 429, 5xx)",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.first_byte = Histogram(
            "tts_first_byte_seconds",
            "From a request's arrival to the first byte of its answer's body",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "tts_queue_wait_seconds",
            "How long an admitted request waited for a synthesis slot",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_audio = Histogram(
            "tts_first_audio_seconds",
            "From the engine's start on a request to its first audio chunk",
            ["engine"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.realtime_factor = Histogram(
            "tts_realtime_factor",
            "Engine time per second of audio, per finished request (below 1 is faster than real time)",
            ["engine"],
            buckets=RTF_BUCKETS,
            registry=self.registry,
        )
        running = Gauge("tts_jobs_running", "Syntheses running", registry=self.registry)
        running.set_function(lambda: jobs.running)
        waiting = Gauge("tts_jobs_waiting", "Admitted requests waiting", registry=self.registry)
        waiting.set_function(lambda: jobs.waiting)
        jobs.on_wait = self.queue_wait.observe

    def record(self, operation: str, status: int, result: str) -> None:
        """One request's end: its HTTP status and how its body ended ("done", "client gone"...)."""
        if status == 429:
            outcome = "429"
        elif status >= 500:
            outcome = "5xx"
        elif status >= 400:
            outcome = "4xx"
        else:
            outcome = {"done": "ok", "client gone": "client_gone"}.get(result, "broken")
        self.requests.labels(operation, outcome).inc()

    def mount(self, app: FastAPI) -> None:
        serve_registry(app, self.registry)


def serve_registry(app: FastAPI, registry: CollectorRegistry) -> None:
    """`GET /metrics` on `app` in Prometheus' text format (not in the OpenAPI schema: for scrapers)."""

    async def exposition() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", exposition, methods=["GET"], include_in_schema=False)


class MeteredEngine:
    """An engine that reports each request's first audio and real-time factor; everything else
    (capabilities, voice clips) is the wrapped engine's."""

    def __init__(self, engine: TTSEngine, metrics: ServerMetrics) -> None:
        self._engine = engine
        self._first_audio = metrics.first_audio.labels(engine.name)
        self._realtime_factor = metrics.realtime_factor.labels(engine.name)

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def stream(self, request: SynthesisRequest, cancel: Event) -> Iterator[np.ndarray]:
        chunks = self._engine.stream(request, cancel)
        busy, samples = 0.0, 0
        try:
            while True:
                started = time.perf_counter()
                chunk = next(chunks, None)
                busy += time.perf_counter() - started
                if chunk is None:
                    break
                if not samples:
                    self._first_audio.observe(busy)
                samples += len(chunk)
                yield chunk
        finally:
            chunks.close()
        if samples and not cancel.is_set():
            self._realtime_factor.observe(busy / (samples / self._engine.sample_rate))
