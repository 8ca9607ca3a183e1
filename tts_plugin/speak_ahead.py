"""Speak ahead of the turn's end: render a speculative reply during the user's silence.

Pipecat's speculation (an eager end of turn) holds a speculative reply's *text* inside the LLM
service (its `SpeculationGate`), so synthesis starts only once the turn is confirmed. With
`speak_ahead(llm)` the LLM lets that text through at once and marks the reply's
`LLMFullResponseStartFrame` as speculative; `IndexTTS2TTSService` then synthesises it and holds
what it would push (`SpeechHold`) until the user's turn ends (released, so the first audio can
leave the moment the turn is confirmed) or the speculation is withdrawn (its synthesis stopped
within one chunk and its audio dropped). The LLM still stops generating on a withdrawal, as it
does when it holds the text itself.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    CancelFrame,
    EagerEndOfTurnCancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseStartFrame,
    SystemFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.turns.speculation_gate import GatedFrame, SpeculationGate

SPECULATIVE = "speculative_reply"
"""`Frame.metadata` key the LLM sets on a speculative reply's `LLMFullResponseStartFrame`."""


def is_speculative(frame: Frame) -> bool:
    """Whether a reply's start frame says the reply answers a turn that may not have ended."""
    return isinstance(frame, LLMFullResponseStartFrame) and bool(frame.metadata.get(SPECULATIVE))


class _MarkingGate(SpeculationGate):
    """An LLM's gate that holds nothing and marks a speculative reply's start instead.

    It keeps the base's bookkeeping of whether the running inference is speculative, which the
    LLM service reads to stop generating when the speculation is withdrawn.
    """

    def process(self, frame: Frame, direction: FrameDirection) -> list[GatedFrame]:
        downstream = direction == FrameDirection.DOWNSTREAM
        if downstream and isinstance(frame, LLMFullResponseStartFrame) and self.is_speculating:
            frame.metadata[SPECULATIVE] = True
        return super().process(frame, direction)

    def _begin(self) -> list[GatedFrame]:
        # Pipecat 1.14's hook for a response opening, where the base starts holding.
        return []


def speak_ahead(llm: LLMService) -> None:
    """Let `llm`'s speculative replies through to the TTS, marked, instead of holding them.

    Only for a pipeline whose TTS holds marked replies (`IndexTTS2TTSService`): any other TTS
    would speak a reply the user has not finished asking for.
    """
    # LLMService builds its gate itself, with no parameter to pass another.
    llm._speculation_gate = _MarkingGate(name=f"{llm}::SpeakAheadGate")


class SpeechHold:
    """What a TTS pushes downstream while its reply is speculative, held until the turn ends.

    `begin` is called when the TTS receives a reply's start frame; from then on every frame it
    pushes downstream, but system frames, is held. A `UserStoppedSpeakingFrame` pushed past the
    hold releases it; a withdrawal, an interruption or a cancel drops it, keeping only
    uninterruptible frames, which belong to work the speculation did not start.
    """

    def __init__(self) -> None:
        self._held: list[GatedFrame] | None = None
        self._turn_ended = False

    @property
    def holding(self) -> bool:
        return self._held is not None

    def begin(self, frame: Frame) -> list[GatedFrame]:
        """A reply starts arriving; hold it if it is speculative and its turn is still open."""
        if not is_speculative(frame) or self._turn_ended:
            return []
        # A new speculation supersedes one still held (the old one was withdrawn upstream).
        superseded = self.drop()
        self._held = []
        return superseded

    def process(self, frame: Frame, direction: FrameDirection) -> list[GatedFrame]:
        """The frames to push now, in order, for one frame the TTS pushes."""
        if direction != FrameDirection.DOWNSTREAM:
            return [(frame, direction)]
        if isinstance(frame, SystemFrame):
            emitted = [(frame, direction)]
            if isinstance(frame, UserStoppedSpeakingFrame):
                self._turn_ended = True
                emitted += self._release()
            elif isinstance(frame, UserStartedSpeakingFrame):
                self._turn_ended = False
            elif isinstance(frame, (EagerEndOfTurnCancelFrame, InterruptionFrame, CancelFrame)):
                emitted += self.drop()
            return emitted
        if self._held is None:
            return [(frame, direction)]
        if isinstance(frame, EndFrame):
            return self.drop() + [(frame, direction)]
        self._held.append((frame, direction))
        return []

    def drop(self) -> list[GatedFrame]:
        """Stop holding; the held frames that must still be delivered, in order."""
        held, self._held = self._held or [], None
        return [(frame, direction) for frame, direction in held if not frame.interruptible]

    def _release(self) -> list[GatedFrame]:
        held, self._held = self._held or [], None
        return held
