"""The silence stop strategy answers the transcript speculatively and keeps it only if the turn holds."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.utils.asyncio.task_manager import TaskManager

from agent.speculative_turn import SpeculativeSilenceUserTurnStopStrategy

SILENCE = 0.05


class Recorder:
    """The strategy's events in order: ('infer', text or None), ('cancel',), ('stop', confirms)."""

    def __init__(self, strategy: SpeculativeSilenceUserTurnStopStrategy) -> None:
        self.events: list[tuple] = []
        self.strategy = strategy

        @strategy.event_handler("on_user_turn_inference_triggered")
        async def infer(_, speculation):
            self.events.append(("infer", speculation.text if speculation else None))

        @strategy.event_handler("on_user_turn_speculation_cancelled")
        async def cancel(_):
            self.events.append(("cancel",))

        @strategy.event_handler("on_user_turn_stopped")
        async def stopped(_, params):
            self.events.append(("stop", params.confirms_speculation))
            # What the user turn controller does on a turn end.
            await strategy.handle_user_turn_stopped()

    async def feed(self, *frames) -> None:
        for frame in frames:
            await self.strategy.process_frame(frame)


@pytest.fixture
async def turn():
    strategy = SpeculativeSilenceUserTurnStopStrategy(user_speech_timeout=SILENCE)
    setup = FrameProcessorSetup(
        clock=SystemClock(),
        pipeline_worker=None,
        task_manager=TaskManager(loop=asyncio.get_running_loop()),
    )
    await strategy.setup(setup)
    await strategy.handle_user_turn_started()
    yield Recorder(strategy)
    await strategy.cleanup()


def words(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="user", timestamp="now")


async def test_the_transcript_starts_the_answer_and_the_silence_confirms_it(turn):
    await turn.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await turn.feed(words("What is the capital of France?"))
    # The answer starts at once, before the silence has run out.
    assert turn.events == [("infer", "What is the capital of France?")]
    await asyncio.sleep(SILENCE * 3)
    # The turn ends confirming it: no second inference, nothing withdrawn.
    assert turn.events == [("infer", "What is the capital of France?"), ("stop", True)]


async def test_speaking_again_withdraws_it_and_the_whole_turn_is_answered(turn):
    await turn.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await turn.feed(words("What is the capital"))
    await turn.feed(VADUserStartedSpeakingFrame())
    assert turn.events == [("infer", "What is the capital"), ("cancel",)]
    await turn.feed(VADUserStoppedSpeakingFrame(stop_secs=0.2), words("of France?"))
    await asyncio.sleep(SILENCE * 3)
    assert turn.events[2:] == [("infer", "What is the capital of France?"), ("stop", True)]


async def test_a_transcript_after_the_silence_ends_the_turn_without_speculating(turn):
    await turn.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await asyncio.sleep(SILENCE * 3)
    assert turn.events == []  # waiting for words
    await turn.feed(words("Hello there."))
    assert turn.events == [("infer", None), ("stop", False)]


async def test_no_speculation_without_a_vad_stop(turn):
    await turn.feed(VADUserStartedSpeakingFrame(), words("still talking"))
    assert turn.events == []


async def test_changed_words_withdraw_it_and_the_committed_words_are_answered(turn):
    await turn.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await turn.feed(words("Is it going"))
    await turn.feed(words("to rain?"))
    assert turn.events == [
        ("infer", "Is it going"),
        ("cancel",),
        ("infer", "Is it going to rain?"),
    ]
    await asyncio.sleep(SILENCE * 3)
    assert turn.events[-1] == ("stop", True)


async def test_a_turn_ended_otherwise_withdraws_the_held_answer(turn):
    await turn.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await turn.feed(words("Tell me a story"))
    # e.g. the user turn controller's stop timeout or an interruption resets the turn.
    await turn.strategy.handle_user_turn_stopped()
    assert turn.events == [("infer", "Tell me a story"), ("cancel",)]
    await asyncio.sleep(SILENCE * 3)
    assert turn.events == [("infer", "Tell me a story"), ("cancel",)]
