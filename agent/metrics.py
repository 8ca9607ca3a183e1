"""The agent's Prometheus metrics at `/metrics`: sessions, refusals and where each turn's time went.

Per-stage latencies come from the metrics Pipecat already measures in every session, through its own
observers: each service's time to first byte (STT: VAD stop to transcript, LLM: first token, TTS:
first audio) from `ServiceMetricsObserver`, and voice-to-voice (user stops speaking to bot starts)
from `UserBotLatencyObserver`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from pipecat.observers.base_observer import BaseObserver
from pipecat.observers.service_metrics_observer import (
    ServiceLatencyKind,
    ServiceLatencyRecord,
    ServiceMetricsObserver,
)
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tts_plugin.server.metrics import LATENCY_BUCKETS, serve_registry

# A processor's name says which stage it is ("SharedWhisperSTTService#1", "OpenAILLMService#0").
_STAGES = (("STT", "stt"), ("LLM", "llm"), ("TTS", "tts"))


class AgentMetrics:
    """Counters and histograms of one agent app, in a registry of its own."""

    def __init__(self, active_sessions: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        active = Gauge("agent_sessions_active", "Voice sessions running", registry=self.registry)
        active.set_function(active_sessions)
        self.sessions_started = Counter(
            "agent_sessions_started", "Voice sessions started", registry=self.registry
        )
        self.sessions_refused = Counter(
            "agent_sessions_refused",
            "Offers refused because every session slot was taken (503)",
            registry=self.registry,
        )
        self.stage = Histogram(
            "agent_stage_seconds",
            "Each service's time to first byte per turn: stt (VAD stop to transcript), llm "
            "(first token), tts (first audio)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.voice_to_voice = Histogram(
            "agent_voice_to_voice_seconds",
            "From the user's stop to the bot's first speech, per turn",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observers(self) -> list[BaseObserver]:
        """Pipecat observers for one session that feed these metrics."""
        services = ServiceMetricsObserver()
        latency = UserBotLatencyObserver()

        @services.event_handler("on_service_latency")
        async def on_service_latency(observer, record: ServiceLatencyRecord) -> None:
            if record.kind != ServiceLatencyKind.TTFB:
                return
            for marker, stage in _STAGES:
                if marker in record.processor:
                    self.stage.labels(stage).observe(record.seconds)
                    return

        @latency.event_handler("on_latency_measured")
        async def on_latency_measured(observer, seconds: float) -> None:
            self.voice_to_voice.observe(seconds)

        return [services, latency]

    def mount(self, app: FastAPI) -> None:
        serve_registry(app, self.registry)
