"""The agent's HTTP side: WebRTC offers (one pipeline per peer), health, and the web page.

`POST /api/offer` takes the browser's SDP offer and answers it (Pipecat's SmallWebRTC handler);
`PATCH /api/offer` adds trickled ICE candidates. At most `server.max_sessions` sessions run at once:
past that a new offer gets 503 with `Retry-After` rather than a session that cannot keep up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from pipecat.transports.smallwebrtc.connection import IceServer, SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)
from pydantic import BaseModel, Field

from agent.bot import run_bot
from agent.config import AgentConfig
from agent.heap import collect_session_garbage, freeze_startup_heap
from agent.jitter import set_audio_prefetch
from agent.metrics import AgentMetrics
from agent.package_data import data_dir
from agent.runtime import AgentRuntime
from tts_plugin.server.app import offline_app
from tts_plugin.server.errors import ErrorBody
from tts_plugin.server.sdp_check import candidate_problem, offer_problem

MAX_SDP_CHARS = 64_000
RETRY_AFTER_SECS = 10
NODE_COOKIE = "agent_node"
WEB_CLIENT_DIR = data_dir("web_client")


class OfferRequest(BaseModel):
    """A WebRTC offer from a client (the JS SDK's shape; `requestData` is accepted too)."""

    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)
    type: Literal["offer"]
    pc_id: str | None = Field(None, max_length=200)
    restart_pc: bool | None = None
    request_data: dict[str, Any] | None = Field(None, alias="requestData")

    model_config = {"populate_by_name": True}


class AnswerResponse(BaseModel):
    sdp: str
    type: str
    pc_id: str


class CandidateModel(BaseModel):
    # A candidate line is ~100 characters (RFC 8839); anything near the limit is not one.
    candidate: str = Field(max_length=1024)
    sdp_mid: str = Field(alias="sdpMid", max_length=64)
    sdp_mline_index: int = Field(alias="sdpMLineIndex", ge=0, le=64)

    model_config = {"populate_by_name": True}


_OFFER_ERRORS: dict[int | str, dict] = {
    400: {"model": ErrorBody, "description": "Not an SDP offer, or one WebRTC cannot use"},
    503: {
        "model": ErrorBody,
        "description": "Every session slot is taken; retry after Retry-After",
    },
}
_PATCH_ERRORS: dict[int | str, dict] = {
    400: {"model": ErrorBody, "description": "An ICE candidate that does not parse"},
    404: {"model": ErrorBody, "description": "No such peer connection"},
}


class PatchRequest(BaseModel):
    pc_id: str = Field(max_length=200)
    candidates: list[CandidateModel] = Field(max_length=100)


class SessionRegistry:
    """The running sessions, keyed by peer connection id, and the slots held for offers still
    negotiating (an offer awaits its WebRTC handshake: counting only running sessions let eight
    simultaneous offers through a cap of four)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._tasks: dict[str, asyncio.Task] = {}
        self._reserved = 0
        self.metrics = AgentMetrics(lambda: len(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def full(self) -> bool:
        return len(self._tasks) + self._reserved >= self.limit

    @contextlib.contextmanager
    def slot(self) -> Iterator[bool]:
        """Hold a slot while an offer negotiates (False: none free); `start` within takes it."""
        if self.full:
            self.metrics.sessions_refused.inc()
            yield False
            return
        self._reserved += 1
        try:
            yield True
        finally:
            self._reserved -= 1

    def __contains__(self, pc_id: object) -> bool:
        return pc_id in self._tasks

    def start(self, connection: SmallWebRTCConnection, runtime: AgentRuntime) -> None:
        pc_id = connection.pc_id
        task = asyncio.create_task(
            run_bot(connection, runtime, self.metrics.observers()), name=f"session-{pc_id}"
        )
        self._tasks[pc_id] = task
        self.metrics.sessions_started.inc()

        def finished(task: asyncio.Task) -> None:
            self._tasks.pop(pc_id, None)
            if not task.cancelled() and task.exception():
                logger.opt(exception=task.exception()).error(f"Session {pc_id} failed")
            logger.info(f"Session {pc_id} ended; {len(self._tasks)} running")
            collect_session_garbage()

        task.add_done_callback(finished)
        logger.info(f"Session {pc_id} started; {len(self._tasks)} running")

    async def stop_all(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def create_app(config: AgentConfig, runtime: AgentRuntime | None = None) -> FastAPI:
    """The agent app; models load and the LLM server starts in its lifespan."""
    runtime = runtime or AgentRuntime(config)
    ice_servers = [IceServer(urls=url) for url in config.server.ice_servers]
    handler = SmallWebRTCRequestHandler(ice_servers=ice_servers)
    sessions = SessionRegistry(config.server.max_sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await sessions.stop_all()
            await handler.close()
            await runtime.stop()

    app = offline_app("pipecat-indextts2 voice agent", lifespan)
    app.state.runtime = runtime
    app.state.sessions = sessions
    sessions.metrics.mount(app)

    @app.post("/api/offer", response_model=AnswerResponse, responses=_OFFER_ERRORS)
    async def offer(request: OfferRequest) -> Any:
        """Answer a WebRTC offer; a new peer starts a voice session."""
        if request.pc_id is not None and request.pc_id in sessions:
            return await answer(request)  # renegotiation of a running session
        with sessions.slot() as free:
            if free:
                return routed_here(await answer(request))
            raise HTTPException(
                503,
                detail=f"the agent is busy: {sessions.limit} sessions are running",
                headers={"Retry-After": str(RETRY_AFTER_SECS)},
            )

    def routed_here(answer: dict[str, Any]) -> Any:
        """Name this agent in a cookie, so a proxy in front of several sends PATCHes back here."""
        if not config.server.node_name:
            return answer
        response = JSONResponse(answer)
        response.set_cookie(NODE_COOKIE, config.server.node_name, httponly=True, samesite="strict")
        return response

    async def answer(request: OfferRequest) -> Any:
        if problem := offer_problem(request.sdp):
            raise HTTPException(400, detail=problem)

        async def on_connection(connection: SmallWebRTCConnection) -> None:
            set_audio_prefetch(connection.pc, config.server.audio_prefetch_packets)
            sessions.start(connection, runtime)

        try:
            answer = await handler.handle_web_request(
                SmallWebRTCRequest(
                    sdp=request.sdp,
                    type=request.type,
                    pc_id=request.pc_id,
                    restart_pc=request.restart_pc,
                    request_data=request.request_data,
                ),
                on_connection,
            )
        except ValueError as e:  # aiortc refusing what the offer asks for
            raise HTTPException(400, detail=f"could not use this SDP offer: {e}") from None
        return answer

    @app.patch("/api/offer", responses=_PATCH_ERRORS)
    async def add_candidates(request: PatchRequest) -> dict[str, str]:
        """Add trickled ICE candidates to a peer connection."""
        for c in request.candidates:
            if problem := candidate_problem(c.candidate):
                raise HTTPException(400, detail=problem)
        try:
            await handler.handle_patch_request(
                SmallWebRTCPatchRequest(
                    pc_id=request.pc_id,
                    candidates=[
                        IceCandidate(c.candidate, c.sdp_mid, c.sdp_mline_index)
                        for c in request.candidates
                    ],
                )
            )
        except ValueError as e:  # aiortc refusing a candidate that parsed
            raise HTTPException(400, detail=f"bad ICE candidate: {e}") from None
        return {"status": "ok"}

    @app.api_route(
        "/api/offer", methods=["GET", "PUT", "DELETE", "OPTIONS", "HEAD"], include_in_schema=False
    )
    async def other_offer_methods() -> JSONResponse:
        # Starlette's own 405 names only the first route's method (POST); name both.
        raise HTTPException(405, detail="Method Not Allowed", headers={"Allow": "POST, PATCH"})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness plus what a load balancer needs: sessions, the LLM's and remote TTS's state."""
        llm: dict[str, Any] = {"provider": config.llm.provider}
        if runtime.llm_server:
            llm["healthy"] = await runtime.llm_server.healthy()
            llm["failure"] = runtime.llm_server.failure
        tts: dict[str, Any] = {"engine": runtime.engine.name}
        if probe := getattr(runtime.engine, "healthy", None):  # a remote speech service
            tts["healthy"] = await asyncio.to_thread(probe)
        ok = llm.get("healthy", True) and tts.get("healthy", True)
        return {
            "status": "ok" if ok else "degraded",
            "sessions": len(sessions),
            "max_sessions": sessions.limit,
            "tts_engine": runtime.engine.name,
            "tts": tts,
            "llm": llm,
            # What a leak would grow: an operator's (and the soak benchmark's) gauge.
            "process": {
                "asyncio_tasks": len(asyncio.all_tasks()),
                "threads": threading.active_count(),
            },
        }

    web_dir = config.server.web_client_dir or WEB_CLIENT_DIR
    if (web_dir / "index.html").is_file():
        app.mount("/assets", StaticFiles(directory=web_dir / "assets", check_dir=False), "assets")

        @app.get("/", include_in_schema=False)
        async def index() -> FileResponse:
            return FileResponse(web_dir / "index.html")

    return app
