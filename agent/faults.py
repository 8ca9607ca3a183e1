"""When the LLM, STT or TTS fails, the bot says so out loud and the call stays up.

Pipecat reports a failed completion or transcription as an `ErrorFrame`; left alone, the user hears
silence and cannot tell a dead model from a slow one. This handler speaks a short apology (at most
once per `cooldown_secs`), and gives the failed service another chance on the next turn: the local
LLM server may have been restarted by its supervisor in the meantime.
"""

from __future__ import annotations

import time

from loguru import logger
from pipecat.frames.frames import ErrorFrame, TTSSpeakFrame
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor

LLM_APOLOGY = "Sorry, I can't answer right now. Please try again in a moment."
STT_APOLOGY = "Sorry, I couldn't hear that properly. Could you say it again?"
# A remote speech service can fail mid-reply (its replica died); the next request goes to a live one.
TTS_APOLOGY = "Sorry, my voice cut out there."


class FaultAnnouncer:
    """Speaks an apology when the LLM, STT or TTS service reports an error."""

    def __init__(
        self,
        worker: PipelineWorker,
        *,
        llm: FrameProcessor,
        stt: FrameProcessor,
        tts: FrameProcessor,
        cooldown_secs: float = 3.0,
    ):
        self._worker = worker
        self._apologies = {llm: LLM_APOLOGY, stt: STT_APOLOGY, tts: TTS_APOLOGY}
        self._cooldown_secs = cooldown_secs
        self._last_apology = 0.0
        worker.event_handler("on_pipeline_error")(self._on_error)

    async def _on_error(self, worker: PipelineWorker, frame: ErrorFrame) -> None:
        apology = self._apologies.get(frame.processor)
        if apology is None:
            return
        logger.warning(f"{frame.processor} failed: {frame.error}")
        if not frame.processor.is_usable:
            await frame.processor.set_usable(True)
        now = time.monotonic()
        if now - self._last_apology < self._cooldown_secs:
            return
        self._last_apology = now
        await worker.queue_frame(TTSSpeakFrame(apology, append_to_context=False))
