"""The embedded engine on its real bundled models: intelligible, streaming, emotional, cancellable."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from audio_analysis import (
    median_f0,
    pause_share,
    rms,
    speech_level_db,
    speech_seconds,
    transcribe,
    word_recall,
)

from tts_plugin.emotion import Emotion
from tts_plugin.engine import EngineError, SynthesisRequest, TTSEngine
from tts_plugin.word_timing import words

pytestmark = pytest.mark.slow

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
LONG = (
    "Well, I think that the weather today is lovely, and we should go for a long walk in the "
    "park, maybe with a basket of sandwiches and some cold lemonade."
)


def speak(engine, text: str, **request) -> np.ndarray:
    chunks = list(engine.stream(SynthesisRequest(text=text, **request), threading.Event()))
    assert chunks and all(c.dtype == np.int16 for c in chunks)
    return np.concatenate(chunks)


def test_it_is_an_engine(embedded_engine):
    assert isinstance(embedded_engine, TTSEngine)
    assert embedded_engine.sample_rate == 22050


@pytest.mark.parametrize("emotion", ["neutral", "sad", "happy", "serious", "angry"])
def test_english_is_intelligible_to_whisper(embedded_engine, whisper, emotion):
    audio = speak(embedded_engine, SENTENCE, emotion=Emotion(preset=emotion))
    heard = transcribe(whisper, audio, embedded_engine.sample_rate)
    assert word_recall(SENTENCE, heard) >= 0.8, heard


def test_mandarin_is_spoken_by_espeak(embedded_engine):
    text = "你好，今天天气很好。我们去公园散步吧。"
    audio = speak(embedded_engine, text)
    seconds = len(audio) / embedded_engine.sample_rate
    # 16 syllables at a normal rate: 2 to 8 seconds, clearly not silence.
    assert 2.0 < seconds < 8.0
    assert rms(audio) > 1000
    assert median_f0(audio, embedded_engine.sample_rate) > 60
    # Language forced to Mandarin goes to the same voice.
    forced = speak(embedded_engine, text, language="zh")
    assert abs(len(forced) - len(audio)) < 0.1 * len(audio)


def test_sad_is_slower_lower_and_softer_than_happy(embedded_engine):
    rate = embedded_engine.sample_rate
    sad = speak(embedded_engine, SENTENCE, emotion=Emotion(preset="sad"))
    happy = speak(embedded_engine, SENTENCE, emotion=Emotion(preset="happy"))
    neutral = speak(embedded_engine, SENTENCE)
    assert len(sad) / len(happy) > 1.2
    assert median_f0(sad, rate) / median_f0(happy, rate) < 0.9
    assert rms(sad) / rms(happy) < 0.75
    # Neutral sits between them.
    assert len(happy) < len(neutral) < len(sad)


def test_serious_is_slower_with_distinct_pauses_and_angry_is_louder(embedded_engine):
    # Piper samples phoneme durations: medians of three renderings of a sentence with commas.
    rate = embedded_engine.sample_rate

    def median(measure, **request) -> float:
        return float(np.median([measure(speak(embedded_engine, LONG, **request), rate)
                                for _ in range(3)]))  # fmt: skip

    serious, angry = Emotion(preset="serious"), Emotion(preset="angry")
    assert median(pause_share, emotion=serious) >= 1.3 * median(pause_share)
    assert median(speech_seconds) / median(speech_seconds, emotion=serious) <= 0.92
    assert median(speech_level_db, emotion=angry) - median(speech_level_db) >= 3.0


def test_intensity_scales_the_effect(embedded_engine):
    # Piper samples phoneme durations, so compare totals over a few runs.
    def seconds(**request) -> int:
        return sum(len(speak(embedded_engine, SENTENCE, **request)) for _ in range(3))

    full = seconds(emotion=Emotion(preset="sad"))
    half = seconds(emotion=Emotion(preset="sad", intensity=0.5))
    neutral = seconds()
    assert neutral < half < full


def test_description_and_speed_shape_prosody(embedded_engine):
    neutral = speak(embedded_engine, SENTENCE)
    described = speak(embedded_engine, SENTENCE, emotion=Emotion(description="very sad, tearful"))
    fast = speak(embedded_engine, SENTENCE, speed=1.5)
    assert len(described) > 1.08 * len(neutral)
    assert len(fast) < 0.8 * len(neutral)


def test_long_sentence_streams_its_first_clause_first(embedded_engine):
    arrivals = []
    started = time.monotonic()
    for chunk in embedded_engine.stream(SynthesisRequest(text=LONG), threading.Event()):
        arrivals.append((time.monotonic() - started, len(chunk)))
    assert len(arrivals) >= 2
    first_at, first_len = arrivals[0]
    # The first chunk is a clause, much shorter than the sentence, and it is ready before the rest.
    assert first_len < 0.5 * sum(n for _, n in arrivals)
    assert first_at < arrivals[-1][0]


def test_cancel_stops_after_the_current_chunk(embedded_engine):
    cancel = threading.Event()
    stream = embedded_engine.stream(SynthesisRequest(text=LONG), cancel)
    first = next(stream)
    assert first.size
    cancel.set()
    assert list(stream) == []


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"text": "Hi", "language": "fr"}, "does not speak 'fr'"),
        ({"text": "Hi", "voice": "nobody"}, "unknown voice 'nobody'"),
    ],
)
def test_unsupported_requests_fail_clearly(embedded_engine, request_args, message):
    with pytest.raises(EngineError, match=message):
        next(embedded_engine.stream(SynthesisRequest(**request_args), threading.Event()))


def test_reference_clip_emotion_is_not_supported(embedded_engine, tmp_path):
    clip = tmp_path / "ref.wav"
    clip.write_bytes(b"RIFF")
    request = SynthesisRequest(text="Hi", emotion=Emotion(reference_audio=clip))
    with pytest.raises(EngineError, match="does not support reference emotions"):
        next(embedded_engine.stream(request, threading.Event()))


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"text": "  "}, "empty"),
        ({"text": "a" * 5000}, "at most 2000"),
        ({"text": "a", "speed": 0}, "speed"),
    ],
)
def test_bad_requests_are_rejected_before_synthesis(request_args, message):
    with pytest.raises(EngineError, match=message):
        SynthesisRequest(**request_args)


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("Hello there, it's 3 o'clock. How are you, my friend?", Emotion(preset="neutral")),
        ("Well, this is serious, and slow, and calm.", Emotion(preset="serious")),
        ("你好，今天天气很好。", Emotion(preset="happy")),
    ],
)
def test_it_reports_when_each_word_starts_before_its_audio(embedded_engine, text, emotion):
    reported: list[tuple[str, float]] = []
    yielded: list[float] = []  # seconds of audio yielded when each report arrived

    def on_words(times):
        reported.extend(times)
        yielded.append(sum(len(c) for c in chunks) / embedded_engine.sample_rate)

    chunks: list[np.ndarray] = []
    request = SynthesisRequest(text, emotion=emotion, on_words=on_words)
    for chunk in embedded_engine.stream(request, threading.Event()):
        chunks.append(chunk)
    total = sum(len(c) for c in chunks) / embedded_engine.sample_rate
    assert [w for w, _ in reported] == words(text)
    starts = [start for _, start in reported]
    assert starts == sorted(starts) and starts[0] == 0.0 and starts[-1] < total
    # Each report came before the audio it times: no word starts inside audio already yielded.
    assert min(yielded) == 0.0
