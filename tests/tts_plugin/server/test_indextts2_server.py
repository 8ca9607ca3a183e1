"""The TTS server in front of the real IndexTTS2 engine (tiny IndexTTS-2 and 2.5 checkpoints):
uploaded clips are voices."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from offline import no_network
from test_speech_api import post, serving
from test_voices_api import TOKEN, call, clip

from tts_plugin.engines.indextts2 import Sampling
from tts_plugin.server.app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def port(indextts2_engine):
    # The engine's voices dir is the server's upload dir: an uploaded clip is a voice at once.
    app = create_app(indextts2_engine, voices_dir=indextts2_engine._voices_dir, token=TOKEN)
    with no_network(), serving(app) as port:
        yield port


def test_an_uploaded_clip_is_a_voice_the_engine_speaks_with(port):
    assert call(port, "PUT", "/v1/voices/grandpa", clip(3.0))[0] == 201
    try:
        response = post(
            port,
            {"model": "indextts2", "input": "Hello there.", "voice": "grandpa",
             "response_format": "pcm", "sample_rate": 22050, "emotion": "sad"},
        )  # fmt: skip
        assert response.status == 200
        audio = np.frombuffer(response.read(), dtype=np.int16)
        assert len(audio) / 22050 > 2.5 and np.abs(audio).max() > 1000
        # The same upload is an emotion reference too, named the same way.
        response = post(
            port,
            {"model": "indextts2", "input": "Hello.", "response_format": "pcm",
             "emotion": {"reference": "grandpa", "intensity": 0.5}},
        )  # fmt: skip
        assert response.status == 200 and len(response.read()) > 22050
    finally:
        assert call(port, "DELETE", "/v1/voices/grandpa")[0] == 204


def test_an_unknown_voice_is_a_400_before_any_audio(port):
    response = post(port, {"model": "indextts2", "input": "Hello.", "voice": "nobody"})
    assert response.status == 400
    assert "unknown voice 'nobody'" in json.loads(response.read())["error"]["message"]


def test_three_concurrent_streams_share_decode_steps_and_all_stream_before_any_ends(
    indextts2_engine, monkeypatch
):
    engine = indextts2_engine
    # Long enough that each stream is several chunks (a random GPT never stops by itself).
    monkeypatch.setattr(engine, "_sampling", Sampling(max_codes=120))
    engine._steps.batch_sizes.clear()
    app = create_app(engine, max_concurrent=3, max_waiting=0)
    texts = ["Hello there, friend.", "A second stream speaks.", "And a third one too."]

    def stream(text: str) -> tuple[float, float, int]:
        response = post(port, {"model": "indextts2", "input": text, "response_format": "pcm"})
        assert response.status == 200
        first = response.read(2048)
        first_at = time.monotonic()
        rest = response.read()
        return first_at, time.monotonic(), len(first) + len(rest)

    with no_network(), serving(app) as port, ThreadPoolExecutor(3) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(stream, t) for t in texts]]
    first_ends = min(end for _, end, _ in results)
    assert all(first_at < first_ends for first_at, _, _ in results)  # all streaming at once
    assert all(size > 22050 for _, _, size in results)
    assert max(engine._steps.batch_sizes) == 3  # one decode step for all three
