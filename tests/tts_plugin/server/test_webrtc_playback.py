"""WebRTC playback: an aiortc client offers, the server answers, and the speech plays as it is made."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from scripted_engine import ScriptedEngine
from test_speech_api import serving

from tts_plugin.server.app import create_app


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def listen(port: int, text: str, seconds: float) -> tuple[list[float], list[float]]:
    """Offer to receive audio, ask for `text`, and record frame levels for `seconds`."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    levels: list[float] = []
    times: list[float] = []
    received = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def record():
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                samples = frame.to_ndarray().astype(np.float64)
                levels.append(float(np.sqrt(np.mean(samples**2))))
                times.append(time.monotonic())
                received.set()

        asyncio.ensure_future(record())

    await pc.setLocalDescription(await pc.createOffer())
    status, answer = await asyncio.to_thread(
        post_json,
        f"http://127.0.0.1:{port}/v1/audio/speech/webrtc",
        {"sdp": pc.localDescription.sdp, "type": "offer", "input": text, "emotion": "happy"},
    )
    assert status == 200, answer
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    await asyncio.wait_for(received.wait(), 10)
    await asyncio.sleep(seconds)
    await pc.close()
    return times, levels


async def test_speech_plays_over_webrtc_as_it_is_generated(embedded_engine):
    with serving(create_app(embedded_engine)) as port:
        times, levels = await listen(port, "Hello, this is the server speaking over WebRTC.", 4.0)
    loud = [t for t, level in zip(times, levels, strict=True) if level > 300]
    assert loud and loud[-1] - loud[0] > 1.5  # seconds of speech arrived


async def test_leaving_early_cancels_the_synthesis():
    engine = ScriptedEngine(chunks=300, steps_per_chunk=2, step_seconds=0.01)
    with serving(create_app(engine)) as port:
        await listen(port, "A very long text.", 0.5)
        await asyncio.sleep(1.0)
        started = len(engine.of_request(0, "chunk_start"))
        await asyncio.sleep(0.5)
        assert len(engine.of_request(0, "chunk_start")) == started < 300


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"sdp": "nonsense", "type": "offer", "input": "Hi"}, 400, "not an SDP offer"),
        ({"sdp": "v=0\r\nbroken", "type": "offer", "input": "Hi"}, 400, "not an SDP offer"),
        ({"sdp": "v=0\r\nm=audio x y z", "type": "offer", "input": "Hi"}, 400, "does not parse"),
        (
            {"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111", "type": "offer", "input": "Hi"},
            400,
            "could not use",
        ),
        ({"sdp": "v=0", "type": "answer", "input": "Hi"}, 422, "offer"),
        ({"sdp": "v=0", "type": "offer"}, 422, "input"),
        (
            {
                "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111",
                "type": "offer",
                "input": "Hi",
                "emotion": "grumpy",
            },
            400,
            "valid presets",
        ),
    ],
)
def test_bad_webrtc_requests_are_clear_json_errors(body, status, text):
    with serving(create_app(ScriptedEngine())) as port:
        code, payload = post_json(f"http://127.0.0.1:{port}/v1/audio/speech/webrtc", body)
    assert code == status and text in json.dumps(payload)
