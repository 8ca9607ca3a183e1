"""Speaking ahead: a speculative reply is synthesised during the silence, held, then released or dropped."""

from __future__ import annotations

from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.tests.utils import SleepFrame, run_test
from scripted_engine import ScriptedEngine

from tts_plugin.service import IndexTTS2TTSService
from tts_plugin.speak_ahead import SPECULATIVE, speak_ahead

DOWN = FrameDirection.DOWNSTREAM


def speculative_reply(*tokens: str) -> list[Frame]:
    start = LLMFullResponseStartFrame()
    start.metadata[SPECULATIVE] = True
    return [start, *(LLMTextFrame(t) for t in tokens), LLMFullResponseEndFrame()]


def index_of(frames: list[Frame], kind: type) -> int:
    return next(i for i, f in enumerate(frames) if isinstance(f, kind))


def audio(frames: list[Frame]) -> list[TTSAudioRawFrame]:
    return [f for f in frames if isinstance(f, TTSAudioRawFrame)]


async def spoken(engine: ScriptedEngine, *frames: Frame) -> list[Frame]:
    """What the service pushes downstream for frames sent during a user turn."""
    down, _ = await run_test(
        IndexTTS2TTSService(engine=engine), frames_to_send=[UserStartedSpeakingFrame(), *frames]
    )
    return down


async def test_a_speculative_reply_is_synthesised_at_once_and_heard_only_when_the_turn_ends():
    engine = ScriptedEngine(chunks=3)
    down = await spoken(
        engine,
        *speculative_reply("Paris is the capital of France."),
        SleepFrame(0.4),  # the user's silence: the sentence is rendered in it
        UserStoppedSpeakingFrame(),
        SleepFrame(0.1),
    )
    # Rendered in full before the turn ended...
    assert len(engine.of_request(0, "chunk_done")) == 3
    assert (
        engine.of_request(0, "chunk_done")[-1].at < engine.of_request(0, "chunk_start")[0].at + 0.4
    )
    # ... yet nothing of it went downstream before the turn's end, and all of it right after.
    stopped = index_of(down, UserStoppedSpeakingFrame)
    assert not [
        f for f in down[:stopped] if isinstance(f, (TTSAudioRawFrame, LLMFullResponseStartFrame))
    ]
    assert len(audio(down[stopped:])) == 3


async def test_withdrawn_when_the_user_goes_on_its_synthesis_stops_and_nothing_is_heard():
    # 20 chunks of 4 x 20 ms: the sentence would take 1.6 s to render.
    engine = ScriptedEngine(chunks=20, steps_per_chunk=4, step_seconds=0.02)
    down = await spoken(
        engine,
        *speculative_reply("Paris is the capital of France, a city of lights."),
        SleepFrame(0.3),
        EagerEndOfTurnCancelFrame(),  # the user went on: "... of Germany?"
        SleepFrame(0.3),
        UserStoppedSpeakingFrame(),
        LLMFullResponseStartFrame(),
        LLMTextFrame("Berlin."),
        LLMFullResponseEndFrame(),
        SleepFrame(0.5),
    )
    # The withdrawn sentence stopped inside the chunk that was running; no chunk after it.
    [cancelled] = engine.of_request(0, "cancelled")
    assert cancelled.chunk < 10
    assert len(engine.of_request(0, "chunk_start")) == cancelled.chunk + 1
    # None of its audio went downstream; the confirmed turn's answer did, in full.
    heard = audio(down)
    assert len(heard) == engine.chunks
    assert all(int.from_bytes(f.audio[:2], "little") >= 200 for f in heard)  # request 1's
    # Its first clause was cut; its second never reached the engine.
    assert [r.text for r in engine.requests] == ["Paris is the capital of France,", "Berlin."]


async def test_a_reply_marked_speculative_after_the_turn_ended_is_not_held():
    down = await spoken(
        ScriptedEngine(chunks=2),
        UserStoppedSpeakingFrame(),  # the confirmation overtook the reply
        *speculative_reply("Hello."),
        SleepFrame(0.2),
    )
    assert len(audio(down)) == 2


async def test_other_speech_is_not_held_and_an_unmarked_reply_plays_at_once():
    down = await spoken(
        ScriptedEngine(chunks=2),
        TTSSpeakFrame("One moment."),
        LLMFullResponseStartFrame(),
        LLMTextFrame("Sure."),
        LLMFullResponseEndFrame(),
        SleepFrame(0.3),
    )
    assert len(audio(down)) == 4


def test_the_llm_lets_a_speculative_reply_through_marked_and_still_knows_to_stop_it():
    llm = OpenAILLMService(api_key="unused", base_url="http://127.0.0.1:9/v1")
    speak_ahead(llm)
    gate = llm._speculation_gate
    # What the LLM service does when a speculative context arrives.
    gate.begin_speculation(LLMContextFrame(context=LLMContext(), speculation=True).speculation)
    start = LLMFullResponseStartFrame()
    text = LLMTextFrame("Paris")
    assert gate.process(start, DOWN) == [(start, DOWN)]
    assert gate.process(text, DOWN) == [(text, DOWN)]
    assert start.metadata[SPECULATIVE] is True
    # Still speculating, so a withdrawal stops the generation (LLMService reads this).
    assert gate.is_speculating
    cancel = EagerEndOfTurnCancelFrame()
    assert gate.process(cancel, DOWN) == [(cancel, DOWN)]
    assert not gate.is_speculating
    # A confirmed turn's reply is not marked.
    stopped = UserStoppedSpeakingFrame()
    gate.process(stopped, DOWN)
    gate.begin_speculation(True)
    confirmed = LLMFullResponseStartFrame()
    gate.process(confirmed, DOWN)
    assert SPECULATIVE not in confirmed.metadata
