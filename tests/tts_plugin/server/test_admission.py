"""Admission at capacity: every request past it gets 429 + Retry-After and nothing else, before any
byte of an answer, streamed or not, over HTTP and WebRTC; every admitted one gets its whole answer."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from fastapi import HTTPException
from http_serving import serving
from scripted_engine import ScriptedEngine
from test_webrtc_playback import post_json

from tts_plugin.server.app import create_app
from tts_plugin.server.jobs import JobQueue
from tts_plugin.server.speech import SpeechRequest, admit

CAPACITY = {"max_concurrent": 2, "max_waiting": 1}
CLIENTS = 8


def ask(port: int, body: dict) -> tuple[int, str | None, bytes | str]:
    """Status, Retry-After, and the whole body, or how reading it broke off."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", "/v1/audio/speech", json.dumps(body), {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        try:
            return response.status, response.getheader("Retry-After"), response.read()
        except (http.client.HTTPException, OSError) as e:
            return response.status, None, f"broken: {e!r}"
    finally:
        connection.close()


def health(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/health")
    return json.loads(connection.getresponse().read())


@pytest.mark.parametrize(
    "mode", [{"stream": True}, {"stream": False}, {"stream_format": "sse"}], ids=str
)
def test_simultaneous_requests_past_capacity_get_429_and_the_rest_whole_answers(mode):
    engine = ScriptedEngine(chunks=6, steps_per_chunk=5, step_seconds=0.01)
    body = {"input": "Hello there.", "response_format": "pcm", "sample_rate": None, **mode}
    with serving(create_app(engine, **CAPACITY)) as port:
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(lambda _: ask(port, body), range(CLIENTS)))
        deadline = time.monotonic() + 5
        while (load := health(port))["running"] + load["waiting"] and time.monotonic() < deadline:
            time.sleep(0.05)
    whole = engine.chunks * engine.chunk_samples * 2
    served = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(served) == 3 and len(refused) == CLIENTS - 3, [a[:2] for a in answers]
    for _, _, payload in served:
        assert isinstance(payload, bytes), payload
        if "stream_format" in mode:
            assert payload.count(b"speech.audio.delta") >= 1 and b"speech.audio.done" in payload
        else:
            assert len(payload) == whole
    for _, retry_after, payload in refused:
        assert int(retry_after) > 0 and "busy" in json.loads(payload)["error"]["message"]
    assert (load["running"], load["waiting"]) == (0, 0)


async def test_simultaneous_webrtc_offers_past_capacity_get_429_before_an_answer():
    engine = ScriptedEngine(chunks=10, steps_per_chunk=2, step_seconds=0.01)  # 1 s of speech
    with serving(create_app(engine, max_concurrent=1, max_waiting=1)) as port:
        peers = [RTCPeerConnection() for _ in range(6)]
        try:
            for pc in peers:
                pc.addTransceiver("audio", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
            url = f"http://127.0.0.1:{port}/v1/audio/speech/webrtc"
            answers = await asyncio.gather(
                *(
                    asyncio.to_thread(
                        post_json,
                        url,
                        {"sdp": pc.localDescription.sdp, "type": "offer", "input": "Hi."},
                    )
                    for pc in peers
                )
            )
            statuses = sorted(status for status, _ in answers)
            assert statuses == [200, 200, 429, 429, 429, 429], answers
            assert all(
                "busy" in body["error"]["message"] for status, body in answers if status == 429
            )
            assert health(port)["running"] + health(port)["waiting"] == 2
            # The admitted peers connect and hear their speech; then every place is given back.
            for pc, (status, answer) in zip(peers, answers, strict=True):
                if status == 200:
                    await pc.setRemoteDescription(RTCSessionDescription(**answer))
            deadline = time.monotonic() + 30
            while (load := health(port))["running"] + load["waiting"]:
                assert time.monotonic() < deadline, load
                await asyncio.sleep(0.2)
            assert len({event.request for event in engine.events}) == 2
        finally:
            for pc in peers:
                await pc.close()


async def test_a_place_is_taken_when_a_request_is_admitted_not_when_its_body_starts():
    # Streamed answers whose bodies have not started yet still hold their places: on the old code
    # the fourth request was admitted too, said 200, and broke off when its body found no room.
    jobs = JobQueue(**CAPACITY)
    engine = ScriptedEngine()
    body = SpeechRequest(input="Hi.")
    tickets = [admit(engine, jobs, body, no_clips)[1] for _ in range(3)]
    with pytest.raises(HTTPException) as refused:
        admit(engine, jobs, body, no_clips)
    assert refused.value.status_code == 429 and int(refused.value.headers["Retry-After"]) > 0
    tickets[0].close()  # a client that left before its first byte gives its place back
    tickets.append(admit(engine, jobs, body, no_clips)[1])
    async with tickets[1], tickets[2]:
        assert (jobs.running, jobs.waiting) == (2, 1)
    for ticket in tickets:
        ticket.close()
    assert (jobs.running, jobs.waiting) == (0, 0)


def no_clips(name: str):
    raise AssertionError("no clip is looked up")
