"""`POST /v1/audio/speech/webrtc`: SDP offer + text in, SDP answer out; the answer's audio track
plays the speech as it is generated (aiortc, Opus at 48 kHz).

The track sends silence until the first chunk, then audio paced in real time, then ends. The peer
connection closes when the speech has played or the client leaves; leaving early cancels synthesis.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import soxr
from fastapi import APIRouter, HTTPException
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from tts_plugin.emotion import ClipLookup
from tts_plugin.engine import SynthesisRequest, TTSEngine
from tts_plugin.server.errors import ErrorBody
from tts_plugin.server.jobs import JobQueue, Ticket
from tts_plugin.server.sdp_check import offer_problem
from tts_plugin.server.speech import SpeechRequest, admit
from tts_plugin.server.synthesis import synthesize

try:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from tts_plugin.server.pcm_track import PcmTrack
except ModuleNotFoundError as e:  # pragma: no cover - import guard
    raise ImportError(
        'WebRTC playback needs aiortc: pip install "pipecat-indextts2[server]"'
    ) from e

RATE = 48000
FRAME = 960  # 20 ms


class WebRTCSpeechRequest(SpeechRequest):
    """A speech request plus the client's SDP offer (receive-only audio is enough)."""

    model_config = ConfigDict(strict=True)
    sdp: str = Field(min_length=1, max_length=64_000)
    type: Literal["offer"]


class WebRTCAnswer(BaseModel):
    sdp: str
    type: str


class SpeechTrack(PcmTrack):
    """Plays the speech as it is pushed, then ends `played` once `finish` was called and all played."""

    def __init__(self) -> None:
        super().__init__(sample_rate=RATE, frame_samples=FRAME)
        self._finished = False
        self.played = asyncio.Event()

    def finish(self) -> None:
        self._finished = True

    def on_frame(self, first_sample: int, now: float) -> None:
        if self._finished and not self.pending_samples:
            self.played.set()


def webrtc_router(
    engine: TTSEngine, jobs: JobQueue, executor: ThreadPoolExecutor, clips: ClipLookup
) -> APIRouter:
    router = APIRouter(tags=["speech"])
    sessions: set[asyncio.Task] = set()

    async def play(
        pc: RTCPeerConnection, track: SpeechTrack, request: SynthesisRequest, ticket: Ticket
    ) -> None:
        resampler = soxr.ResampleStream(engine.sample_rate, RATE, 1, dtype="int16")
        try:
            async with ticket:
                async for chunk in synthesize(engine, request, executor):
                    track.push(resampler.resample_chunk(chunk))
            track.push(resampler.resample_chunk(np.zeros(0, np.int16), last=True))
            track.finish()
            await asyncio.wait_for(track.played.wait(), timeout=600)
            await asyncio.sleep(0.5)  # let the last packets leave
        except TimeoutError as e:
            logger.warning(f"WebRTC speech ended early: {e}")
        finally:
            await pc.close()

    @router.post(
        "/v1/audio/speech/webrtc",
        response_model=WebRTCAnswer,
        responses={
            400: {"model": ErrorBody, "description": "Bad SDP, or unusable emotion/voice/language"},
            429: {"model": ErrorBody, "description": "Busy: retry after Retry-After seconds"},
        },
    )
    async def speak_over_webrtc(body: WebRTCSpeechRequest) -> WebRTCAnswer:
        """Answer the offer; its audio track speaks `input` as it is synthesised."""
        if problem := offer_problem(body.sdp):
            raise HTTPException(400, detail=problem)
        request, ticket = admit(engine, jobs, body, clips)
        pc = RTCPeerConnection()
        track = SpeechTrack()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=body.sdp, type=body.type))
            pc.addTrack(track)
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException as e:
            ticket.close()
            await pc.close()
            if isinstance(e, ValueError):  # aiortc refusing what the offer asks for
                raise HTTPException(400, detail=f"could not use this SDP offer: {e}") from None
            raise
        task = asyncio.create_task(play(pc, track, request, ticket))
        sessions.add(task)
        task.add_done_callback(sessions.discard)
        task.add_done_callback(lambda _: ticket.close())  # also when cancelled before it ran

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not task.done():
                task.cancel()  # the client left: stop synthesising

        return WebRTCAnswer(sdp=pc.localDescription.sdp, type=pc.localDescription.type)

    return router
