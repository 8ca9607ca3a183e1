"""OpenAI's whole speech API: every response format streamed and decodable, SSE events,
`instructions` as a tone, the voices list; through the real `openai` client and a real browser."""

from __future__ import annotations

import base64
import io
import json
import time

import av
import numpy as np
import pytest
from audio_analysis import median_f0, transcribe, word_recall
from browser import chromium_page
from scripted_engine import ScriptedEngine
from test_speech_api import post, serving

from tts_plugin.server.app import create_app

TEXT = "The quick brown fox jumps over the lazy dog."
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def decoded(data: bytes, response_format: str, rate: int = 24000) -> tuple[np.ndarray, int]:
    """int16 mono samples and their rate, decoded with PyAV (pcm is already samples)."""
    if response_format == "pcm":
        return np.frombuffer(data, dtype=np.int16), rate
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=stream.rate)
        frames = [
            f.to_ndarray().reshape(-1) for raw in container.decode(stream)
            for f in resampler.resample(raw)
        ]  # fmt: skip
        return np.concatenate(frames), stream.rate


@pytest.fixture(scope="module")
def speech_server(embedded_engine):
    with serving(create_app(embedded_engine)) as port:
        yield port


@pytest.mark.parametrize("response_format", list(CONTENT_TYPES))
def test_each_format_streams_through_the_openai_client_and_says_the_text(
    speech_server, whisper, response_format
):
    from openai import OpenAI

    client = OpenAI(base_url=f"http://127.0.0.1:{speech_server}/v1", api_key="unused")
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format=response_format
    ) as response:
        assert response.headers["content-type"] == CONTENT_TYPES[response_format]
        data = b"".join(response.iter_bytes())
    audio, rate = decoded(data, response_format)
    assert 1.5 < len(audio) / rate < 6.0
    heard = transcribe(whisper, audio, rate)
    assert word_recall(TEXT, heard) >= 0.7, heard


def test_mp3_is_the_default_as_openais(speech_server):
    from openai import OpenAI

    client = OpenAI(base_url=f"http://127.0.0.1:{speech_server}/v1", api_key="unused")
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello."
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        data = response.read()
    audio, rate = decoded(data, "mp3")
    assert rate == 24000 and len(audio) > 0.3 * rate


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav"])
def test_first_encoded_bytes_arrive_before_synthesis_ends(response_format):
    engine = ScriptedEngine(chunks=10, steps_per_chunk=5, step_seconds=0.01)
    with serving(create_app(engine)) as port:
        response = post(port, {"input": "A long text.", "response_format": response_format})
        assert response.status == 200
        first = response.read1(65536)
        first_at = time.monotonic()
        rest = response.read()
    assert first and rest
    assert first_at < engine.of_request(0, "chunk_done")[-1].at
    audio, rate = decoded(first + rest, response_format)
    assert abs(len(audio) / rate - 10 * engine.chunk_samples / engine.sample_rate) < 0.1


def test_opus_is_sent_at_a_rate_opus_takes(speech_server):
    response = post(
        speech_server, {"input": "Hi.", "response_format": "opus", "sample_rate": 22050}
    )
    assert response.status == 200 and response.getheader("X-Sample-Rate") == "48000"
    assert decoded(response.read(), "opus")[1] == 48000


def test_sse_sends_openais_delta_and_done_events(speech_server):
    response = post(
        speech_server, {"input": TEXT, "response_format": "pcm", "stream_format": "sse"}
    )
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    events = [
        json.loads(line[len("data: ") :])
        for line in response.read().decode().splitlines()
        if line.startswith("data: ")
    ]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) > 1 and events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["input_tokens"] == len(TEXT)
    audio = np.frombuffer(b"".join(base64.b64decode(e["audio"]) for e in deltas), np.int16)
    assert len(audio) / 24000 > 1.5


def spoken(port: int, **fields) -> np.ndarray:
    body = {"input": TEXT, "response_format": "pcm", "sample_rate": 22050, **fields}
    response = post(port, body)
    assert response.status == 200, response.read()
    return np.frombuffer(response.read(), dtype=np.int16)


def test_instructions_set_the_tone_as_the_same_words_as_an_emotion_do(speech_server):
    sad = spoken(speech_server, instructions="Speak in a sad and slow voice.")
    cheerful = spoken(speech_server, instructions="Speak in a cheerful and happy tone!")
    neutral = spoken(speech_server)
    # "sad and slow" is longer and lower than "cheerful"; both differ from no instructions.
    assert len(sad) > 1.1 * len(cheerful)
    assert median_f0(sad, 22050) < median_f0(cheerful, 22050)
    assert len(neutral) not in (len(sad), len(cheerful))
    # The same words as an emotion description give the same tone (Piper varies a little per run).
    described = spoken(speech_server, emotion={"description": "Speak in a sad and slow voice."})
    assert abs(len(described) - len(sad)) < 0.05 * len(sad)


def test_an_explicit_emotion_wins_over_instructions(speech_server):
    both = spoken(speech_server, emotion="happy", instructions="Speak in a sad and slow voice.")
    happy = spoken(speech_server, emotion="happy")
    sad = spoken(speech_server, instructions="Speak in a sad and slow voice.")
    # Piper's durations vary ~5 % run to run; sad is ~28 % slower than happy (docs/benchmarks.md).
    assert abs(len(both) - len(happy)) < 0.1 * len(happy) and len(sad) > 1.1 * len(both)


def test_voices_are_listed_where_openai_compatible_servers_list_them(speech_server):
    from test_voices_api import call

    status, _, listed = call(speech_server, "GET", "/v1/audio/voices", token=None)
    assert status == 200 and listed == call(speech_server, "GET", "/v1/voices", token=None)[2]
    assert {"name", "kind"} <= set(listed["voices"][0])


@pytest.mark.slow
def test_a_browser_plays_the_mp3_stream_as_it_arrives(speech_server, tmp_path):
    silent = tmp_path / "silence.wav"
    with av.open(str(silent), "w") as wav:
        stream = wav.add_stream("pcm_s16le", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 4800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            wav.mux(packet)
    with chromium_page(silent) as page:
        page.goto(f"http://127.0.0.1:{speech_server}/health")  # same origin as the API
        played = page.evaluate(
            """async (text) => {
              const audio = new Audio(), source = new MediaSource();
              audio.src = URL.createObjectURL(source);
              await new Promise((ok) => source.addEventListener("sourceopen", ok, { once: true }));
              const buffer = source.addSourceBuffer("audio/mpeg");
              const started = performance.now();
              const response = await fetch("/v1/audio/speech", {
                method: "POST", headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ input: text }),
              });
              const reader = response.body.getReader();
              let playingAt = null, chunks = 0;
              audio.addEventListener("playing", () => { playingAt = performance.now(); });
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                chunks += 1;
                await new Promise((ok) => {
                  buffer.addEventListener("updateend", ok, { once: true });
                  buffer.appendBuffer(value);
                });
                if (chunks === 1) audio.play();
              }
              const bodyDoneAt = performance.now();
              source.endOfStream();
              await new Promise((ok) => audio.addEventListener("ended", ok, { once: true }));
              return { chunks, duration: audio.duration, playingAt: playingAt - started,
                       bodyDoneAt: bodyDoneAt - started, type: response.headers.get("content-type") };
            }""",
            "Once upon a time, in a small village by the sea, there lived an old fisherman, who "
            "rowed his little boat out past the rocks every morning, and came home every evening.",
        )
    assert played["type"] == "audio/mpeg" and played["chunks"] > 1
    assert played["duration"] > 4.0
    # Playback began while the body was still arriving.
    assert played["playingAt"] < played["bodyDoneAt"], played
