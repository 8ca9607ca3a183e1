"""`GET /metrics` on the TTS server: Prometheus text an operator's scraper reads."""

from __future__ import annotations

import http.client
import json
import time

from http_serving import serving
from prometheus_client.parser import text_string_to_metric_families
from scripted_engine import ScriptedEngine

from tts_plugin.server.app import create_app


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.read().decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def speech(port: int, body: dict, read: bool = True) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    payload = json.dumps({"response_format": "pcm", **body})
    connection.request("POST", "/v1/audio/speech", payload, {"Content-Type": "application/json"})
    response = connection.getresponse()
    if read:
        response.read()
    else:
        response.read1(100)
        connection.close()  # the client leaves mid-answer
    return response.status


def test_requests_queue_and_engine_speed_are_scraped():
    engine = ScriptedEngine(chunks=3, steps_per_chunk=2, step_seconds=0.01)
    with serving(create_app(engine, max_concurrent=1, max_waiting=0)) as port:
        assert speech(port, {"input": "Hello there."}) == 200
        assert speech(port, {"input": "Hi", "emotion": "grumpy"}) == 400
        assert speech(port, {"input": "Hi", "speed": 9}) == 422
        slow = ScriptedEngine(chunks=200, steps_per_chunk=2, step_seconds=0.01)
        with serving(create_app(slow, max_concurrent=1, max_waiting=0)) as busy_port:
            connection = http.client.HTTPConnection("127.0.0.1", busy_port, timeout=20)
            connection.request(
                "POST", "/v1/audio/speech", json.dumps({"input": "Long."}),
                {"Content-Type": "application/json"},
            )  # fmt: skip
            held = connection.getresponse()
            held.read1(100)
            assert speech(busy_port, {"input": "Me too."}) == 429
            connection.close()
            time.sleep(0.5)
            busy = scrape(busy_port)
        metrics = scrape(port)

    def count(name: str, **labels: str) -> float:
        return metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    assert count("tts_requests_total", operation="speech", outcome="ok") == 1
    assert count("tts_requests_total", operation="speech", outcome="4xx") == 2
    assert count("tts_first_byte_seconds_count", operation="speech") == 1
    assert count("tts_queue_wait_seconds_count") == 1
    assert count("tts_first_audio_seconds_count", engine="scripted") == 1
    assert count("tts_realtime_factor_count", engine="scripted") == 1
    assert 0 < count("tts_realtime_factor_sum", engine="scripted") < 10
    assert count("tts_jobs_running") == 0 and count("tts_jobs_waiting") == 0
    refused = ("tts_requests_total", (("operation", "speech"), ("outcome", "429")))
    gone = ("tts_requests_total", (("operation", "speech"), ("outcome", "client_gone")))
    assert busy[refused] == 1 and busy[gone] == 1
