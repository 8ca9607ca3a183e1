"""Ends a session whose peer has vanished without saying goodbye.

aiortc reports no "disconnected" state, so a closed laptop lid or a killed tab can leave a session
(and its synthesis) running until ICE consent expires, tens of seconds later. Pipecat's clients ping
over the data channel every second; once a connected peer has been silent for `grace_secs` the
session is cancelled, which stops its pipeline and any engine work.
"""

from __future__ import annotations

import asyncio

from loguru import logger
from pipecat.pipeline.worker import PipelineWorker
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection


async def watch_peer(
    connection: SmallWebRTCConnection,
    worker: PipelineWorker,
    *,
    grace_secs: float = 3.0,
    period_secs: float = 0.5,
) -> None:
    """Cancel `worker` once `connection` has stopped looking alive for `grace_secs`."""
    seen_alive = False
    silent_since: float | None = None
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(period_secs)
        if connection.is_connected():
            seen_alive = True
            silent_since = None
            continue
        if not seen_alive:
            continue
        silent_since = silent_since or loop.time()
        if loop.time() - silent_since >= grace_secs:
            logger.info(f"Peer {connection.pc_id} silent for {grace_secs:g} s; ending its session")
            await worker.cancel(reason="peer vanished")
            return
