"""The TTS server as a Ray Serve deployment: the same app and API, one engine per replica.

    python -m tts_plugin serve --ray [--ray-address auto] [--min-replicas 1 --max-replicas 4]

Ray routes each request to the less busy of two replicas and never gives one more than its engine's
`max_concurrent` syntheses; past `max_queued` waiting requests it answers 429 with Retry-After, the
single server's contract. Replicas scale on ongoing requests between `min_replicas` and
`max_replicas`, each with `num_gpus` GPUs. A client that disconnects cancels its synthesis in the
replica (Serve cancels the ASGI request; the app's stream stops the engine). Point every replica's
`voices_dir` at one shared path (NFS, a mounted bucket): uploads through any replica are then seen by
all, and the IndexTTS2 engine re-reads a clip whose modification time changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve.config import AutoscalingConfig, BackpressureConfig
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tts_plugin.engine import EngineError
from tts_plugin.engine_factory import EngineSettings
from tts_plugin.server.app import ServerOptions, server_app


@dataclass
class ScaleOptions:
    """How the deployment scales (the `serve --ray` options)."""

    min_replicas: int = 1
    max_replicas: int = 1
    num_gpus: float = 0.0
    num_cpus: float = 1.0
    max_concurrent: int = 2  # syntheses per replica (the engine's concurrency)
    max_queued: int = 8  # requests waiting for a replica before 429
    retry_after_secs: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise EngineError(
                f"need 1 <= min_replicas ({self.min_replicas}) <= max_replicas "
                f"({self.max_replicas})"
            )
        if self.max_concurrent < 1 or self.max_queued < 0:
            raise EngineError("--max-concurrent must be >= 1 and --max-waiting >= 0")


class NameTheReplica:
    """`X-Replica` on every response (plain ASGI: a failure mid-stream still aborts the stream)."""

    def __init__(self, app: ASGIApp, replica: str) -> None:
        self.app = app
        self.replica = replica

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Replica"] = self.replica
            await send(message)

        await self.app(scope, receive, named if scope["type"] == "http" else send)


class TTSReplica:
    """One engine and the server app around it, built from `serve`'s options in the replica."""

    def __init__(self, settings: EngineSettings, options: ServerOptions) -> None:
        # Serve queues past max_concurrent; the app's wait list only absorbs a slot's release
        # racing the next request.
        _, self._app = server_app(settings, replace(options, max_waiting=options.max_concurrent))

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = self._app
        replica = serve.get_replica_context().replica_id.unique_id
        app.add_middleware(NameTheReplica, replica=replica)

        @app.get("/v1/replica", tags=["engine"])
        async def replica_info() -> dict[str, Any]:
            """Which replica answered, and its process (for operators and failure drills)."""
            return {"replica": replica, "pid": os.getpid()}

        return app


def deployment(settings: EngineSettings, options: ServerOptions, scale: ScaleOptions):
    """The bound Serve application for `serve`'s options."""
    cls = serve.deployment(
        serve.ingress()(TTSReplica),
        name="tts",
        max_ongoing_requests=scale.max_concurrent,
        max_queued_requests=scale.max_queued,
        backpressure_config=BackpressureConfig(
            status_code=429, retry_after_s=scale.retry_after_secs
        ),
        autoscaling_config=AutoscalingConfig(
            min_replicas=scale.min_replicas,
            max_replicas=scale.max_replicas,
            initial_replicas=scale.min_replicas,
            target_ongoing_requests=max(1, scale.max_concurrent - 1),
        ),
        ray_actor_options={"num_gpus": scale.num_gpus, "num_cpus": scale.num_cpus},
        # A replica is healthy once its engine answered; a dead one is replaced.
        health_check_period_s=2,
        health_check_timeout_s=10,
    )
    return cls.bind(settings, options)


def run(
    settings: EngineSettings,
    options: ServerOptions,
    scale: ScaleOptions,
    *,
    host: str,
    port: int,
    ray_address: str | None = None,
    ray_num_cpus: int | None = None,
) -> None:
    """Start (or join, with `ray_address`) a Ray cluster and serve until interrupted."""
    import ray

    # Ray reports usage statistics to its makers by default; nothing here talks to the internet.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address=ray_address, num_cpus=ray_num_cpus, include_dashboard=False)
    serve.start(http_options={"host": host, "port": port})
    serve.run(deployment(settings, options, scale), name="tts", route_prefix="/", blocking=True)
