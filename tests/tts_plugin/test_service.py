"""IndexTTS2TTSService in Pipecat's `run_test` harness, driven by the scripted engine."""

from __future__ import annotations

import time

import pytest
from pipecat.frames.frames import (
    AggregatedTextFrame,
    EagerEndOfTurnCancelFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    TTSUpdateSettingsFrame,
)
from pipecat.metrics.metrics import (
    ProcessingMetricsData,
    TTFBMetricsData,
    TTSUsageMetricsData,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from tts_plugin.emotion import Emotion, EmotionError
from tts_plugin.engine import EngineError
from tts_plugin.service import IndexTTS2TTSService

Settings = IndexTTS2TTSService.Settings


def reply(*tokens: str) -> list[Frame]:
    """An LLM reply as the LLM service streams it."""
    return [
        LLMFullResponseStartFrame(),
        *(LLMTextFrame(t) for t in tokens),
        LLMFullResponseEndFrame(),
    ]


def spoken(frames) -> str:
    """The text of the timed word frames, as the context joins them."""
    words = [f for f in frames if isinstance(f, TTSTextFrame)]
    return "".join(f.text + ("" if f.includes_inter_frame_spaces else " ") for f in words).strip()


def kinds(frames, *types) -> list[str]:
    return [type(f).__name__ for f in frames if isinstance(f, types)]


async def test_sentence_frames_come_in_order_at_the_engine_rate(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame("Hello there.")])

    order = kinds(down, TTSStartedFrame, TTSAudioRawFrame, TTSStoppedFrame)
    assert order == ["TTSStartedFrame"] + ["TTSAudioRawFrame"] * 3 + ["TTSStoppedFrame"]
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert {f.sample_rate for f in audio} == {22050}
    assert [len(f.audio) for f in audio] == [2 * scripted_engine.chunk_samples] * 3
    assert [f.text for f in down if isinstance(f, TTSTextFrame)] == ["Hello", "there."]
    assert scripted_engine.loads == 1
    assert not [f for f in up if isinstance(f, ErrorFrame)]


async def test_each_sentence_of_a_reply_is_one_engine_request(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    await run_test(tts, frames_to_send=reply("First one. ", "Second ", "one."))
    assert [r.text for r in scripted_engine.requests] == ["First one.", "Second one."]


async def test_settings_update_applies_from_the_next_sentence(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    await run_test(
        tts,
        frames_to_send=[
            TTSSpeakFrame("One."),
            TTSUpdateSettingsFrame(
                delta=Settings(emotion="sad", emotion_intensity=0.5, speed=1.2, voice="bob")
            ),
            TTSSpeakFrame("Two."),
            TTSUpdateSettingsFrame(delta=Settings(emotion=[0, 0, 0, 0, 0, 0, 1, 0])),
            TTSSpeakFrame("Three."),
        ],
    )
    first, second, third = scripted_engine.requests
    assert (first.emotion.preset, first.emotion.intensity, first.speed) == ("neutral", 1.0, 1.0)
    assert (second.emotion.preset, second.emotion.intensity) == ("sad", 0.5)
    assert (second.speed, second.voice) == (1.2, "bob")
    # A vector without its own intensity keeps the intensity setting.
    assert third.emotion.vector == (0, 0, 0, 0, 0, 0, 1.0, 0)
    assert third.emotion.intensity == 0.5


async def test_inline_tag_is_never_spoken_and_sets_the_reply_emotion(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    down, _ = await run_test(
        tts,
        frames_to_send=[
            *reply("[sad:0.7] I am so ", "sorry. ", "It happens."),
            *reply("[laughs] Next reply."),
        ],
    )
    texts = [r.text for r in scripted_engine.requests]
    assert texts == ["I am so sorry.", "It happens.", "Next reply."]
    emotions = [(r.emotion.preset, r.emotion.intensity) for r in scripted_engine.requests]
    # The tag holds for the rest of its reply; the next reply starts from the settings again,
    # and an unknown tag is removed but changes nothing.
    assert emotions == [("sad", 0.7), ("sad", 0.7), ("neutral", 1.0)]
    shown = [f.text for f in down if isinstance(f, (AggregatedTextFrame, TTSTextFrame))]
    assert not any("[" in t for t in shown), shown


async def test_inline_tags_can_be_forbidden(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine, settings=Settings(inline_emotion=False))
    await run_test(tts, frames_to_send=reply("[angry] Calm down."))
    [request] = scripted_engine.requests
    assert (request.text, request.emotion.preset) == ("Calm down.", "neutral")


async def test_a_tag_alone_colours_the_next_sentence(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    await run_test(tts, frames_to_send=reply("[happy] ", "Great news!"))
    [request] = scripted_engine.requests
    assert (request.text, request.emotion.preset) == ("Great news!", "happy")


async def test_tags_anywhere_in_a_token_stream_are_never_spoken_shown_or_remembered(
    scripted_engine,
):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    stream = (
        "Well I must say [happy: 0.9] that is great. Hello [sad] world. [tone: warm] Bye [excited!]"
    )
    # Tokens as small LLMs cut them: every tag split across several.
    pieces = [stream[i : i + 3] for i in range(0, len(stream), 3)]
    down, _ = await run_test(tts, frames_to_send=reply(*pieces))
    spoken = [(r.text, r.emotion.preset, r.emotion.intensity) for r in scripted_engine.requests]
    assert spoken == [
        ("Well I must say", "neutral", 1.0),
        ("that is great.", "happy", 0.9),
        ("Hello", "happy", 0.9),
        ("world.", "sad", 1.0),
        ("Bye", "sad", 1.0),
    ]
    shown = [f.text for f in down if isinstance(f, (AggregatedTextFrame, TTSTextFrame))]
    assert shown and not any(c in t for t in shown for c in "[]"), shown


def test_token_aggregation_is_refused_with_a_clear_error(scripted_engine):
    from pipecat.services.tts_service import TextAggregationMode

    with pytest.raises(ValueError, match="SENTENCE"):
        IndexTTS2TTSService(engine=scripted_engine, text_aggregation_mode=TextAggregationMode.TOKEN)


@pytest.mark.parametrize(
    ("tokens", "listener", "said"),
    [
        (["[happy]"], None, "Sorry, could you say that again?"),
        (["...", " !"], "en", "Sorry, could you say that again?"),
        (["【开心】", "。"], "zh", "抱歉，能再说一遍吗？"),
        (["😀"], "zh", "抱歉，能再说一遍吗？"),
    ],
)
async def test_a_reply_with_nothing_to_say_asks_the_user_to_repeat(
    scripted_engine, tokens, listener, said
):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    tts.listener_language = listener
    down, _ = await run_test(tts, frames_to_send=reply(*tokens))
    assert [r.text for r in scripted_engine.requests] == [said]
    assert spoken(down) == said


async def test_no_fallback_for_a_withdrawn_speculation_or_an_empty_completion(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    await run_test(
        tts,
        frames_to_send=[
            LLMFullResponseStartFrame(),
            SleepFrame(0.1),
            EagerEndOfTurnCancelFrame(),  # the user went on: the LLM stops this reply
            LLMFullResponseEndFrame(),
            *reply(),  # no text at all: a failed completion, which the agent reports itself
        ],
    )
    assert scripted_engine.requests == []


@pytest.mark.parametrize(
    ("listener", "tokens", "said", "language"),
    [
        ("zh", ["今天天气", "很好。"], "今天天气很好。", "zh"),
        ("en", ["It is ", "sunny."], "It is sunny.", "en"),
        ("en", ["你好。"], "你好。", "zh"),  # the script wins where it tells
        (
            "fr",
            ["Il fait ", "beau. ", "Vraiment."],
            "Sorry, I can only speak English and Chinese.",
            None,
        ),
    ],
)
async def test_a_reply_is_spoken_in_the_listeners_language_or_says_it_cannot_be(
    scripted_engine, listener, tokens, said, language
):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    tts.listener_language = listener
    await run_test(tts, frames_to_send=reply(*tokens))
    assert [(r.text, r.language) for r in scripted_engine.requests] == [(said, language)]


async def test_no_fallback_after_speech_an_interruption_or_a_pipeline_end(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    await run_test(
        tts,
        frames_to_send=[
            *reply("Fine. ", "😀"),
            LLMFullResponseStartFrame(),
            LLMTextFrame("[sad]"),
            SleepFrame(0.2),  # the interruption, a system frame, would overtake the reply
            InterruptionFrame(),
            LLMFullResponseEndFrame(),
        ],
    )
    assert [r.text for r in scripted_engine.requests] == ["Fine."]


async def test_each_request_says_how_much_audio_its_listener_still_has_queued(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    await run_test(
        tts,
        frames_to_send=[
            *reply("First one. ", "Second one."),
            SleepFrame(0.5),  # the reply's 0.6 s of audio plays out
            InterruptionFrame(),
            TTSSpeakFrame("After."),
        ],
    )
    first, second, after = (r.ahead_seconds for r in scripted_engine.requests)
    # The second sentence starts while the first's 0.3 s of audio is still queued.
    assert first == 0.0 and 0.15 < second <= 0.3
    assert after == 0.0  # an interruption drops what was queued


async def test_metrics_report_ttfb_processing_and_usage(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    down, _ = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame("Measure me.")],
        pipeline_params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
    )
    data = [d for f in down if isinstance(f, MetricsFrame) for d in f.data]
    ttfb = [d for d in data if isinstance(d, TTFBMetricsData)]
    assert any(d.value > 0 and d.model == "scripted" for d in ttfb)
    assert any(isinstance(d, ProcessingMetricsData) for d in data)
    usage = [d for d in data if isinstance(d, TTSUsageMetricsData)]
    assert usage and usage[0].value == len("Measure me.")


class InterruptionClock(FrameProcessor):
    """Notes when the interruption passes, just before the TTS service gets it."""

    def __init__(self):
        super().__init__()
        self.interrupted_at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self.interrupted_at = time.monotonic()
        await self.push_frame(frame, direction)


async def test_interruption_stops_the_engine_within_one_chunk_and_next_turn_works():
    from scripted_engine import ScriptedEngine

    # 20 chunks of 4 x 20 ms steps: the long sentence would run 1.6 s.
    engine = ScriptedEngine(chunks=20, steps_per_chunk=4, step_seconds=0.02)
    tts = IndexTTS2TTSService(engine=engine)
    clock = InterruptionClock()
    down, _ = await run_test(
        Pipeline([clock, tts]),
        frames_to_send=[
            TTSSpeakFrame("A long sentence that will be cut off."),
            SleepFrame(0.5),  # well into the 1.6 s sentence, even on a loaded machine
            InterruptionFrame(),
            SleepFrame(0.3),
            TTSSpeakFrame("Next turn."),
            SleepFrame(0.3),
        ],
    )
    assert clock.interrupted_at is not None
    started = engine.of_request(0, "chunk_start")
    [cancelled] = engine.of_request(0, "cancelled")
    # Work stopped in the chunk that was running when the interruption came: no chunk started
    # after it, and the cancel flag was seen within that chunk.
    assert all(e.at <= clock.interrupted_at for e in started)
    assert cancelled.chunk == started[-1].chunk
    assert cancelled.chunk < engine.chunks - 1
    # The next turn is synthesised in full.
    assert len(engine.of_request(1, "chunk_done")) == engine.chunks

    # No audio of the interrupted sentence is pushed after the interruption.
    after = down[next(i for i, f in enumerate(down) if isinstance(f, InterruptionFrame)) :]
    stale = [f for f in after if isinstance(f, TTSAudioRawFrame) and f.audio[:2] == b"\x64\x00"]
    fresh = [f for f in after if isinstance(f, TTSAudioRawFrame)]
    assert not stale
    assert len(fresh) == engine.chunks


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        (Settings(emotion="furious"), "valid presets: neutral, happy"),
        (Settings(emotion=[0.5] * 7), "has 8 values"),
        (Settings(emotion=[float("nan")] + [0.0] * 7), "must be in [0, 1]"),
        (Settings(emotion=[0, 2, 0, 0, 0, 0, 0, 0]), "'angry' must be in [0, 1]"),
        (Settings(emotion={"preset": "sad", "colour": "blue"}), "unknown emotion field"),
        (Settings(emotion_intensity=1.5), "intensity must be in [0, 1]"),
        (Settings(speed=9.0), "speed must be in"),
        (Settings(voice="carol"), "voices: alice, bob"),
        (Settings(language="fr"), "languages: en, zh"),
    ],
)
async def test_bad_settings_are_rejected_with_an_error_frame_and_change_nothing(
    scripted_engine, delta, message
):
    tts = IndexTTS2TTSService(
        engine=scripted_engine, settings=Settings(emotion="happy", emotion_intensity=0.8)
    )
    down, up = await run_test(
        tts,
        frames_to_send=[TTSUpdateSettingsFrame(delta=delta), TTSSpeakFrame("Still fine.")],
    )
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and message in errors[0].error
    [request] = scripted_engine.requests
    assert (request.emotion.preset, request.emotion.intensity) == ("happy", 0.8)
    assert (request.speed, request.voice, request.language) == (1.0, None, None)
    assert kinds(down, TTSAudioRawFrame) == ["TTSAudioRawFrame"] * 3


async def test_unsupported_emotion_mode_is_rejected(scripted_engine, tmp_path):
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    tts = IndexTTS2TTSService(engine=scripted_engine)
    _, up = await run_test(
        tts,
        frames_to_send=[
            TTSUpdateSettingsFrame(delta=Settings(emotion=Emotion(reference_audio=clip))),
            TTSSpeakFrame("Hi."),
        ],
    )
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and "does not support reference emotions" in errors[0]
    assert scripted_engine.requests[0].emotion.preset == "neutral"


def test_bad_constructor_settings_raise_clear_exceptions(scripted_engine):
    with pytest.raises(EmotionError, match="valid presets"):
        IndexTTS2TTSService(engine=scripted_engine, settings=Settings(emotion="grumpy"))
    with pytest.raises(EngineError, match="speed"):
        IndexTTS2TTSService(engine=scripted_engine, settings=Settings(speed=0.1))


async def test_engine_failure_gives_an_error_frame_and_the_next_sentence_works(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    down, up = await run_test(
        tts, frames_to_send=[TTSSpeakFrame("Please FAIL now."), TTSSpeakFrame("Recovered.")]
    )
    errors = [f.error for f in up if isinstance(f, ErrorFrame)]
    assert any("scripted failure" in e for e in errors)
    assert [r.text for r in scripted_engine.requests] == ["Please FAIL now.", "Recovered."]
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert len(audio) == 3 and audio[0].audio[:2] == (200).to_bytes(2, "little")


async def test_emotional_speak_frame_colours_only_its_own_utterance(scripted_engine):
    from tts_plugin.frames import EmotionalSpeakFrame

    tts = IndexTTS2TTSService(engine=scripted_engine, settings=Settings(inline_emotion=False))
    applied = []

    @tts.event_handler("on_emotion_applied")
    async def on_applied(service, emotion, source):
        applied.append((emotion.label(), source))

    await run_test(
        tts,
        frames_to_send=[
            EmotionalSpeakFrame(
                "Vector me.", emotion=Emotion(vector=(0,) * 6 + (1, 0), intensity=0.5)
            ),
            TTSSpeakFrame("Back to normal."),
        ],
    )
    first, second = scripted_engine.requests
    assert first.emotion.vector[6] == 1.0 and first.emotion.intensity == 0.5
    assert second.emotion.preset == "neutral"
    assert applied == [("vector(0, 0, 0, 0, 0, 0, 1, 0)@0.5", "speak"), ("neutral@1", "settings")]


async def test_set_emotion_applies_at_once_or_raises_and_keeps_state(scripted_engine):
    tts = IndexTTS2TTSService(engine=scripted_engine)
    active = await tts.set_emotion("sad", 0.4)
    assert (active.preset, active.intensity) == ("sad", 0.4)
    with pytest.raises(EmotionError):
        await tts.set_emotion("sulky")
    with pytest.raises(EmotionError):
        await tts.set_emotion("happy", 7)
    assert tts.effective_emotion() == Emotion(preset="sad", intensity=0.4)


async def test_cancelling_the_pipeline_stops_the_engine_and_ends_promptly():
    import asyncio

    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.workers.runner import WorkerRunner
    from scripted_engine import ScriptedEngine

    engine = ScriptedEngine(chunks=50, steps_per_chunk=4, step_seconds=0.02)
    tts = IndexTTS2TTSService(engine=engine)
    worker = PipelineWorker(Pipeline([tts]), idle_timeout_secs=None, cancel_timeout_secs=3.0)
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)

    cancelled_at: list[float] = []

    async def speak_then_cancel():
        await asyncio.sleep(0.2)
        await worker.queue_frame(TTSSpeakFrame("A sentence that would take four seconds."))
        await asyncio.sleep(0.4)
        cancelled_at.append(time.monotonic())
        await worker.cancel(reason="peer left")

    started = time.monotonic()
    await asyncio.gather(runner.run(), speak_then_cancel())
    assert time.monotonic() - started < 2.5
    await asyncio.sleep(0.3)  # let the worker thread finish the chunk it was in
    started_chunks = engine.of_request(0, "chunk_start")
    assert 1 <= len(started_chunks) < 10
    assert all(e.at < cancelled_at[0] for e in started_chunks)
