"""Ends a session whose peer has vanished without saying goodbye.

aiortc reports no "disconnected" state, so a closed laptop lid or a killed tab can leave a session
(and its synthesis) running until ICE consent expires, tens of seconds later. Two signs of life
count: Pipecat's clients ping over the data channel every second (`is_connected`), and every peer
streams microphone audio (a muted browser track still sends silent frames). A peer that pings
nothing, like a plain aiortc script, is judged by its audio alone. Once a connected peer has
shown neither for `grace_secs`, the session is cancelled, which stops its pipeline and any engine
work.
"""

from __future__ import annotations

import asyncio

from loguru import logger
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection


class AudioArrivals(FrameProcessor):
    """Notes when the peer's audio last arrived (placed right after the transport's input)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.last_at = asyncio.get_running_loop().time()
        await self.push_frame(frame, direction)


async def watch_peer(
    connection: SmallWebRTCConnection,
    worker: PipelineWorker,
    audio: AudioArrivals,
    *,
    grace_secs: float = 3.0,
    period_secs: float = 0.5,
) -> None:
    """Cancel `worker` once `connection` has shown no sign of life for `grace_secs`."""
    loop = asyncio.get_running_loop()
    last_alive: float | None = None  # never alive yet: still connecting, nothing to judge
    while True:
        await asyncio.sleep(period_secs)
        # is_connected() is ping freshness for a peer that pings, but the ICE state (which stays
        # "connected" ~30 s after the peer dies) for one that never did: only pings count here.
        if getattr(connection, "_last_received_time", None) and connection.is_connected():
            last_alive = loop.time()
        if audio.last_at is not None:
            last_alive = max(last_alive or audio.last_at, audio.last_at)
        if last_alive is not None and loop.time() - last_alive >= grace_secs:
            logger.info(f"Peer {connection.pc_id} silent for {grace_secs:g} s; ending its session")
            await worker.cancel(reason="peer vanished")
            return
