"""The TTS server app: speech, engine info and health over one shared engine.

python -m tts_plugin serve [--host 127.0.0.1] [--port 8000] [--max-concurrent 2]
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from tts_plugin.engine import TTSEngine
from tts_plugin.engine_factory import EngineSettings, create_engine
from tts_plugin.server.audit import AuditLog, AuditMiddleware
from tts_plugin.server.errors import ErrorBody, install_error_handlers
from tts_plugin.server.jobs import JobQueue
from tts_plugin.server.metrics import MeteredEngine, ServerMetrics
from tts_plugin.server.speech import speech_router
from tts_plugin.server.voices import VoiceStore, voices_router
from tts_plugin.server.webrtc import webrtc_router


def offline_app(title: str, lifespan) -> FastAPI:
    """A FastAPI app without /docs or /redoc: their pages load scripts from a CDN, and nothing
    here reaches the internet. The OpenAPI schema stays at /openapi.json. Every error it answers
    has one shape (`errors.py`), documented on every operation."""
    app = FastAPI(
        title=title,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses={
            422: {"model": ErrorBody, "description": "Invalid request: which field, which rule"},
            500: {"model": ErrorBody, "description": "Our bug: quote the request id"},
        },
    )
    install_error_handlers(app)
    return app


def default_voices_dir() -> Path:
    return Path(
        os.environ.get("TTS_VOICES_DIR", "~/.local/share/pipecat-indextts2/voices")
    ).expanduser()


@dataclass(frozen=True)
class ServerOptions:
    """How `serve` runs the app around its engine."""

    max_concurrent: int = 2
    max_waiting: int = 4
    voices_dir: Path | None = None
    cors_origins: list[str] = field(default_factory=list)
    audit_log: Path | None = None  # also write the audit trail to this file


def server_app(settings: EngineSettings, options: ServerOptions) -> tuple[TTSEngine, FastAPI]:
    """The engine and app `serve` runs (in one process, or in each Ray replica)."""
    engine = create_engine(settings)
    app = create_app(
        engine,
        voices_dir=options.voices_dir,
        max_concurrent=options.max_concurrent,
        max_waiting=options.max_waiting,
        cors_origins=options.cors_origins,
        audit_log=AuditLog(options.audit_log) if options.audit_log else None,
    )
    return engine, app


def create_app(
    engine: TTSEngine,
    *,
    max_concurrent: int = 2,
    max_waiting: int = 4,
    voices_dir: Path | None = None,
    token: str | None = None,
    cors_origins: list[str] | None = None,
    audit_log: AuditLog | None = None,
) -> FastAPI:
    """A server for `engine`; the engine loads in the app's lifespan, off the event loop.

    `token` (default: `TTS_SERVER_TOKEN` from the environment) guards voice uploads. CORS is off
    unless `cors_origins` names the web origins allowed to call the API from a browser.
    Voice changes, refusals and speech sessions are audited (`audit.py`): to stderr, and to the
    rotating file of `audit_log` when given one; `GET /metrics` serves Prometheus metrics.
    """
    jobs = JobQueue(max_concurrent=max_concurrent, max_waiting=max_waiting)
    metrics = ServerMetrics(jobs)
    engine = MeteredEngine(engine, metrics)
    executor = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="tts-server")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.get_running_loop().run_in_executor(executor, engine.load)
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    app = offline_app("pipecat-indextts2 TTS server", lifespan)
    app.state.jobs = jobs
    app.add_middleware(AuditMiddleware, audit=audit_log or AuditLog(), metrics=metrics)
    metrics.mount(app)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Sample-Rate", "Retry-After"],
        )
    store = VoiceStore(voices_dir or default_voices_dir())
    # Emotion reference clips are named uploaded voices, never paths on this machine.
    app.include_router(speech_router(engine, jobs, executor, store.path))
    app.include_router(webrtc_router(engine, jobs, executor, store.path))
    app.include_router(voices_router(engine, store, token or os.environ.get("TTS_SERVER_TOKEN")))

    @app.get("/v1/engine", tags=["engine"])
    async def engine_info() -> dict[str, Any]:
        """What the engine can do: sample rate, emotion modes, languages, voices."""
        caps = engine.capabilities
        return {
            "name": engine.name,
            "sample_rate": engine.sample_rate,
            "emotion_modes": sorted(caps.emotion_modes),
            "languages": list(caps.languages),
            "voices": list(caps.voices),
            "max_chunk_seconds": caps.max_chunk_seconds,
        }

    @app.get("/health", tags=["engine"])
    async def health() -> dict[str, Any]:
        """Liveness and load: running and waiting jobs."""
        return {
            "status": "ok",
            "running": jobs.running,
            "waiting": jobs.waiting,
            "max_concurrent": jobs.max_concurrent,
        }

    return app
