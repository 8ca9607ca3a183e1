"""The TTS server on a real loopback port: streaming, OpenAI compatibility, queue, cancellation."""

from __future__ import annotations

import http.client
import json
import threading
import time

import numpy as np
import pytest
from http_serving import serving
from pipecat.frames.frames import ErrorFrame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.tests.utils import run_test
from scripted_engine import ScriptedEngine

from tts_plugin.engine import EngineError, SynthesisRequest
from tts_plugin.engines.remote import RemoteEngine
from tts_plugin.server.app import create_app
from tts_plugin.service import IndexTTS2TTSService


def post(port: int, body: dict) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(
        "POST", "/v1/audio/speech", json.dumps(body), {"Content-Type": "application/json"}
    )
    return connection.getresponse()


def test_first_pcm_bytes_arrive_before_synthesis_ends():
    engine = ScriptedEngine(chunks=10, steps_per_chunk=5, step_seconds=0.01)
    with serving(create_app(engine)) as port:
        response = post(
            port, {"input": "A long text.", "response_format": "pcm", "sample_rate": None}
        )
        assert response.status == 200
        assert response.getheader("X-Sample-Rate") == "22050"
        first = response.read1(4410)
        first_at = time.monotonic()
        rest = response.read()
    assert first and len(first + rest) == 10 * 2 * engine.chunk_samples
    last_chunk_done = engine.of_request(0, "chunk_done")[-1].at
    assert first_at < last_chunk_done


def test_wav_format_has_a_streaming_header():
    engine = ScriptedEngine(chunks=2)
    with serving(create_app(engine)) as port:
        data = post(port, {"input": "Hi.", "response_format": "wav", "stream": False}).read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    # OpenAI's rate by default: 2 chunks of 0.1 s at 22050 Hz come out as 0.2 s at 24000 Hz.
    assert int.from_bytes(data[24:28], "little") == 24000
    assert abs((len(data) - 44) / 2 - 0.2 * 24000) < 100


async def test_pipecat_openai_tts_service_gets_audio_at_24k(embedded_engine):
    from pipecat.services.openai.tts import OpenAITTSService

    with serving(create_app(embedded_engine)) as port:
        tts = OpenAITTSService(api_key="unused", base_url=f"http://127.0.0.1:{port}/v1")
        down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame("Hello from Pipecat.")])
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio and sum(len(f.audio) for f in audio) > 24000
    assert not [f for f in up if isinstance(f, ErrorFrame)]


def test_openai_client_gets_audio(embedded_engine):
    from openai import OpenAI

    with serving(create_app(embedded_engine)) as port:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
        with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Hello from the server.", response_format="pcm"
        ) as response:
            audio = np.frombuffer(response.read(), dtype=np.int16)
    assert len(audio) > 0.5 * 22050 and np.abs(audio).max() > 1000


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"input": ""}, 422, "input"),
        ({"input": "Hi", "speed": 5}, 422, "speed"),
        ({"input": "Hi", "response_format": "ogg"}, 422, "response_format"),
        ({"input": "Hi", "stream_format": "websocket"}, 422, "stream_format"),
        ({"input": "Hi", "instructions": "x" * 5000}, 422, "instructions"),
        ({"input": "Hi", "instructions": 3}, 422, "instructions"),
        ({"input": "Hi", "emotion": "furious"}, 400, "valid presets"),
        ({"input": "Hi", "emotion": [1, 2]}, 400, "has 8 values"),
        ({"input": "Hi", "voice": "carol"}, 400, "unknown voice"),
        ({"input": "Hi", "language": "fr"}, 400, "does not speak"),
        # Reference clips are named uploads: a path on the server is refused, not probed.
        ({"input": "Hi", "emotion": {"reference_audio": "/etc/hostname"}}, 400, "unknown emotion"),
        ({"input": "Hi", "emotion": {"reference": "../../etc/hostname"}}, 400, "unknown reference"),
    ],
)
def test_bad_requests_are_clear_json_errors(body, status, text):
    with serving(create_app(ScriptedEngine())) as port:
        response = post(port, body)
        payload = response.read().decode()
    assert response.status == status
    assert text in payload and json.loads(payload)["error"]["message"]


def test_queue_full_is_429_with_retry_after_and_a_disconnect_frees_the_slot():
    engine = ScriptedEngine(chunks=200, steps_per_chunk=2, step_seconds=0.01)
    with serving(create_app(engine, max_concurrent=1, max_waiting=0)) as port:
        busy = post(port, {"input": "Long one."})
        assert busy.status == 200 and busy.read1(100)
        refused = post(port, {"input": "Me too."})
        assert refused.status == 429 and int(refused.getheader("Retry-After")) > 0
        assert "busy" in refused.read().decode()
        # The first client goes away: its synthesis stops and the next request is served at once.
        busy.close()
        time.sleep(0.5)
        started = len(engine.of_request(0, "chunk_start"))
        time.sleep(0.3)
        assert len(engine.of_request(0, "chunk_start")) == started < 200
        served = post(
            port,
            {"input": "Now me.", "response_format": "pcm", "stream": False, "sample_rate": None},
        )
        assert served.status == 200 and len(served.read()) == 200 * 2 * engine.chunk_samples


async def test_service_speaks_through_a_remote_engine(embedded_engine):
    with serving(create_app(embedded_engine)) as port:
        engine = RemoteEngine(f"http://127.0.0.1:{port}")
        engine.load()
        assert engine.sample_rate == 22050 and "zh" in engine.capabilities.languages
        tts = IndexTTS2TTSService(
            engine=engine, settings=IndexTTS2TTSService.Settings(emotion="sad")
        )
        down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame("Hello over the wire.")])
    audio = b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame))
    assert len(audio) > 22050 and not [f for f in up if isinstance(f, ErrorFrame)]


def test_remote_engine_errors_are_clear():
    with pytest.raises(EngineError, match="not reachable"):
        RemoteEngine("http://127.0.0.1:9").load()
    with pytest.raises(EngineError, match="http"):
        RemoteEngine("ftp://example")
    with serving(create_app(ScriptedEngine())) as port:
        engine = RemoteEngine(f"http://127.0.0.1:{port}")
        with pytest.raises(EngineError, match="unknown voice"):
            list(engine.stream(SynthesisRequest(text="Hi", voice="zed"), threading.Event()))


def cors_preflight(port: int) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "OPTIONS",
        "/v1/audio/speech",
        headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST"},
    )
    return connection.getresponse()


def test_cors_is_off_unless_configured():
    with serving(create_app(ScriptedEngine())) as port:
        assert cors_preflight(port).getheader("Access-Control-Allow-Origin") is None
    with serving(create_app(ScriptedEngine(), cors_origins=["http://app.example"])) as port:
        assert cors_preflight(port).getheader("Access-Control-Allow-Origin") == "http://app.example"
