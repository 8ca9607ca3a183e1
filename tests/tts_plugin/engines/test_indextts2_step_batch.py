"""Concurrent requests on one IndexTTS2 model share each decode step and get exactly what they get
alone: the same codes (greedy and seeded), the same audio; one that joins or is cancelled mid-flight
changes nothing for the others. Both tiny generations.

Why exact: a batched step runs every row through the same matrix products as a lone step and each
request attends over its own cache, so the only possible difference is the matrix library choosing
another kernel for more rows (measured here: codes and audio identical, bit for bit); a request's sampling and DiT noise come from its
own generator, so who else is decoding cannot change them. Audio is compared to 1/1000 of full
scale, which a different kernel's last-bit rounding could not exceed through the DiT and BigVGAN,
and a single changed code could not meet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from offline import no_network

from tts_plugin.emotion import Emotion
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.decode import Sampling, request_generator, sample_codes

pytestmark = pytest.mark.slow
CODES = 40
TEXTS = [
    "Hello there, this is a longer sentence for streaming.",
    "A second voice says something else entirely, and slowly.",
    "Numbers like twelve and forty two, then a question?",
]
EMOTIONS = ["happy", "sad", "neutral"]
SAMPLINGS = {
    "greedy": Sampling(greedy=True, max_codes=CODES),
    "seeded": Sampling(seed=11, max_codes=CODES),
}


@pytest.fixture(autouse=True)
def offline():
    with no_network():
        yield


@pytest.fixture
def engine(indextts2_engine):
    indextts2_engine._steps.batch_sizes.clear()
    return indextts2_engine


def decode(
    engine,
    index: int,
    sampling: Sampling,
    cancel: threading.Event | None = None,
    on_code: Callable[[int], None] = lambda n: None,
) -> list[int]:
    """Request `index`'s codes through the engine's shared steps, each taken at once."""
    models = engine._models
    voice = engine._voice(None)
    emotion = engine._emotion(voice, Emotion(preset=EMOTIONS[index]))
    tokens = engine._segments(TEXTS[index], "en")[0]
    with engine._model_call(gpt=True):
        decoder = models.decoder(voice, emotion, tokens, "en", sampling.max_codes)
    codes: list[int] = []
    for code in sample_codes(
        decoder, models.stop_code, models.codebook_size, sampling, cancel or threading.Event(),
        engine._steps, StreamClock(), request_generator(sampling.seed, models.device),
    ):  # fmt: skip
        codes.append(code)
        on_code(len(codes))
    return codes


def together(*calls: Callable[[], object]) -> list:
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(timeout=120) for f in [pool.submit(call) for call in calls]]


@pytest.mark.parametrize("mode", SAMPLINGS)
def test_concurrent_requests_share_steps_and_get_the_codes_they_get_alone(engine, mode):
    sampling = SAMPLINGS[mode]
    alone = [decode(engine, i, sampling) for i in range(3)]
    assert all(len(codes) >= 10 for codes in alone)
    engine._steps.batch_sizes.clear()
    assert together(*(lambda i=i: decode(engine, i, sampling) for i in range(3))) == alone
    sizes = list(engine._steps.batch_sizes)
    assert max(sizes) == 3
    # The steps were shared: far fewer passes than codes.
    assert len(sizes) < 0.6 * sum(len(codes) for codes in alone), sizes


def test_a_request_joining_mid_flight_changes_nothing(engine):
    sampling = SAMPLINGS["seeded"]
    alone = [decode(engine, i, sampling) for i in range(2)]
    tenth = threading.Event()

    def late() -> list[int]:
        assert tenth.wait(60)
        return decode(engine, 1, sampling)

    first = lambda: decode(engine, 0, sampling, on_code=lambda n: n == 10 and tenth.set())  # noqa: E731
    assert together(first, late) == alone
    assert max(engine._steps.batch_sizes) == 2


def test_a_request_cancelled_mid_flight_changes_nothing_for_the_others(engine):
    sampling = SAMPLINGS["seeded"]
    alone = [decode(engine, i, sampling) for i in range(3)]
    cancel = threading.Event()

    def cancelled() -> list[int]:
        return decode(engine, 1, sampling, cancel, on_code=lambda n: n == 5 and cancel.set())

    a, b, c = together(
        lambda: decode(engine, 0, sampling), cancelled, lambda: decode(engine, 2, sampling)
    )
    assert (a, c) == (alone[0], alone[2])
    assert b == alone[1][:5]  # stopped at the next step


def test_concurrent_streams_sound_as_they_do_alone(engine, monkeypatch):
    monkeypatch.setattr(engine, "_sampling", replace(SAMPLINGS["seeded"], max_codes=60))
    requests = [SynthesisRequest(TEXTS[i], emotion=Emotion(preset=EMOTIONS[i])) for i in range(2)]

    def speak(request: SynthesisRequest) -> np.ndarray:
        return np.concatenate(list(engine.stream(request, threading.Event())))

    alone = [speak(r) for r in requests]
    engine._steps.batch_sizes.clear()
    both = together(*(lambda r=r: speak(r) for r in requests))
    assert max(engine._steps.batch_sizes) == 2
    for solo, shared in zip(alone, both, strict=True):
        assert len(solo) == len(shared)
        assert np.abs(solo.astype(np.int32) - shared).max() <= 33  # 1/1000 of full scale
