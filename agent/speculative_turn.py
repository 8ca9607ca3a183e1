"""End the turn after a silence, but start answering as soon as the transcript is in.

With the silence rule the LLM waited for the whole silence (`turns.silence_secs` after VAD stop)
even though Whisper's transcript lands sooner. Here the transcript starts a speculative inference at
once (Pipecat's speculation: a provisional context, the response held by the LLM service's
`SpeculationGate`); when the silence runs out with the same words, that held response is released
rather than asked for again. If the user speaks again first, or the words change, the speculation
is withdrawn, which also stops the LLM's generation.

The speculated words are joined exactly as the user aggregator joins them for the context, so the
message the answer was generated from is the one the conversation keeps (a local llama.cpp server
then reuses its evaluated prompt on the next turn instead of evaluating it again).
"""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import TranscriptionFrame, VADUserStartedSpeakingFrame
from pipecat.turns.types import UserTurnSpeculation
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_stop.eager_match_policy import NormalizedMatch
from pipecat.utils.string import TextPartForConcatenation, concatenate_aggregated_text


class SpeculativeSilenceUserTurnStopStrategy(SpeechTimeoutUserTurnStopStrategy):
    """`SpeechTimeoutUserTurnStopStrategy` that speculates on each transcript after VAD stop."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._match = NormalizedMatch()
        self._speculation: UserTurnSpeculation | None = None
        self._words: list[TextPartForConcatenation] = []

    async def _handle_vad_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        # The user goes on: what was speculated answers half a turn.
        await self._withdraw("the user spoke again")
        await super()._handle_vad_user_started_speaking(frame)

    async def _handle_transcription(self, frame: TranscriptionFrame):
        if frame.text.strip():
            self._words.append(
                TextPartForConcatenation(
                    frame.text, includes_inter_part_spaces=frame.includes_inter_frame_spaces
                )
            )
        await super()._handle_transcription(frame)
        # Only while the silence is still being waited out after a VAD stop (the turn may just have
        # ended inside the call above, and the fallback path has no VAD stop to speculate from).
        waiting = self._vad_stopped and not self._vad_user_speaking
        if not waiting or self._user_speech_timeout_task is None or not self._words:
            return
        text = concatenate_aggregated_text(self._words)
        if self._speculation and self._match.matches(self._speculation.text, text):
            return
        await self._withdraw("a later transcript changed the words")
        self._speculation = UserTurnSpeculation(text=text)
        logger.debug(f"{self}: speculating on [{text}]")
        await self.trigger_user_turn_inference_triggered(speculation=self._speculation)

    async def trigger_user_turn_stopped(self, *, enable_user_speaking_frames: bool | None = None):
        speculation = self._speculation
        if speculation and self._match.matches(
            speculation.text, concatenate_aggregated_text(self._words)
        ):
            self._speculation = None
            await self.trigger_user_turn_finalized(
                enable_user_speaking_frames=enable_user_speaking_frames,
                confirms_speculation=True,
            )
            return
        await self._withdraw("the turn ended on other words")
        await super().trigger_user_turn_stopped(
            enable_user_speaking_frames=enable_user_speaking_frames
        )

    async def _reset(self, *, clear_vad_user_speaking: bool):
        # A turn that ends any other way (interruption, stop timeout, session end) leaves nothing
        # to release the held response: withdraw it.
        await self._withdraw("the turn ended without it")
        self._words = []
        await super()._reset(clear_vad_user_speaking=clear_vad_user_speaking)

    async def _withdraw(self, reason: str) -> None:
        if self._speculation is None:
            return
        self._speculation = None
        logger.debug(f"{self}: speculation withdrawn ({reason})")
        await self.trigger_user_turn_speculation_cancelled()
