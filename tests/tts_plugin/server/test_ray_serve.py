"""`python -m tts_plugin serve --ray`: a local Ray cluster (started by the server process) with two
replicas of the embedded engine, driven over HTTP as agents drive it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_voices_api import TOKEN, clip

from agent.llm_server import free_port

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
STORY = (
    "Once upon a time, in a small village by the sea, there lived an old fisherman, who every "
    "morning rowed his little boat out past the rocks, and every evening came home with a basket "
    "full of silver fish for his neighbours, who loved him dearly and sang songs about his boat. "
)


class RayServer:
    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.process = process

    def request(self, method: str, path: str, body: bytes = b"", headers=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        connection.request(method, path, body, headers or {})
        return connection, connection.getresponse()

    def speech(self, text: str, **fields):
        body = {"input": text, "response_format": "pcm", "sample_rate": None, **fields}
        return self.request(
            "POST",
            "/v1/audio/speech",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )

    def get(self, path: str) -> tuple[str, dict]:
        connection, response = self.request("GET", path, timeout=20)
        try:
            return response.getheader("X-Replica"), json.loads(response.read())
        finally:
            connection.close()

    def each_replica(self, path: str, replicas: int = 2, timeout: float = 30) -> dict[str, dict]:
        """GET `path` until `replicas` different replicas have answered: their answers."""
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < replicas:
            assert time.monotonic() < deadline, f"only replicas {list(seen)} answered {path}"
            replica, body = self.get(path)
            seen[replica] = body
        return seen

    def replica_state(self, replica: str, path: str = "/health", timeout: float = 20) -> dict:
        """GET `path` until `replica` answers it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered, body = self.get(path)
            if answered == replica:
                return body
        raise AssertionError(f"replica {replica} did not answer {path}")


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    port = free_port()
    voices = tmp_path_factory.mktemp("shared-voices")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "tts_plugin", "serve", "--ray", "--port", str(port),
            "--min-replicas", "2", "--max-replicas", "2", "--num-cpus", "0.5",
            "--ray-num-cpus", "2", "--max-concurrent", "2", "--max-waiting", "1",
            "--voices-dir", str(voices),
        ],
        cwd=ROOT,
        env={**os.environ, "TTS_SERVER_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path_factory.mktemp("log") / "ray.log").open("w"),
    )  # fmt: skip
    server = RayServer(port, process)
    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, "the Ray server exited"
        assert time.monotonic() < deadline, "the Ray server did not come up"
        try:
            server.each_replica("/v1/replica", timeout=5)
            break
        except (OSError, AssertionError, ValueError):
            time.sleep(1)
    yield server
    process.send_signal(signal.SIGINT)  # Serve and the local Ray cluster shut down with it
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def timed_stream(server: RayServer, text: str, out: dict) -> None:
    started = time.monotonic()
    connection, response = server.speech(text)
    out["status"], out["replica"] = response.status, response.getheader("X-Replica")
    out["first"] = len(response.read1(4096)) and time.monotonic() - started
    out["bytes"] = out["first"] and 4096 + len(response.read())
    out["end"] = time.monotonic() - started
    connection.close()


def test_two_streams_land_on_two_replicas_and_both_stream_before_either_ends(ray_server):
    results = [{}, {}]
    threads = [threading.Thread(target=timed_stream, args=(ray_server, STORY, r)) for r in results]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(120)
    assert [r["status"] for r in results] == [200, 200]
    assert results[0]["replica"] != results[1]["replica"]
    # Both were streaming at once: each first chunk came before either stream had finished.
    assert max(r["first"] for r in results) < min(r["end"] for r in results), results
    assert all(r["bytes"] > 22050 * 2 * 8 for r in results)  # > 8 s of speech each
    # Each replica serves its own /metrics: between them they counted both streams.
    served = 0
    for replica in {r["replica"] for r in results}:
        deadline = time.monotonic() + 20
        while True:
            connection, response = ray_server.request("GET", "/metrics")
            text = response.read().decode()
            connection.close()
            if response.getheader("X-Replica") == replica:
                break
            assert time.monotonic() < deadline, f"replica {replica} did not answer /metrics"
        assert "tts_jobs_running" in text
        served += sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith('tts_requests_total{operation="speech",outcome="ok"}')
        )
    assert served >= 2


def test_a_client_that_leaves_cancels_the_replicas_synthesis(ray_server):
    connection, response = ray_server.speech(STORY * 4)  # ~1 min of speech: several s of work
    assert response.status == 200 and response.read1(4096)
    replica = response.getheader("X-Replica")
    assert ray_server.replica_state(replica)["running"] == 1
    connection.close()
    left = time.monotonic()
    while ray_server.replica_state(replica)["running"]:
        assert time.monotonic() - left < 3.0, "the synthesis went on without its client"


def test_past_every_replicas_capacity_is_a_429_with_retry_after(ray_server):
    # 2 replicas x 2 syntheses + 1 queued; the rest are refused at once, not queued for minutes.
    opened: list = []
    threads = [
        threading.Thread(target=lambda: opened.append(ray_server.speech(STORY * 2)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        statuses = sorted(response.status for _, response in opened)
        refused = [response for _, response in opened if response.status == 429]
        # Ray's router sees replicas' queue lengths with a lag, so how many of the places fill
        # varies (on a loaded 2-core machine as few as one: [200, 429 x 7] was seen); what must
        # hold: some are served, the rest refused at once with Retry-After.
        assert len(opened) == 8 and statuses.count(200) >= 1 and refused, statuses
        assert all(int(r.getheader("Retry-After")) > 0 for r in refused)
        assert all("backpressure" in r.read().decode() for r in refused)
    finally:
        for connection, _ in opened:
            connection.close()


def test_an_upload_through_one_replica_is_a_voice_on_every_replica(ray_server):
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "audio/wav"}
    connection, response = ray_server.request("PUT", "/v1/voices/grandpa", clip(2.0), auth)
    assert response.status == 201
    connection.close()
    listed = ray_server.each_replica("/v1/voices")
    assert all("grandpa" in {v["name"] for v in body["voices"]} for body in listed.values())
    connection, response = ray_server.request("DELETE", "/v1/voices/grandpa", headers=auth)
    assert response.status == 204
    connection.close()
    listed = ray_server.each_replica("/v1/voices")
    assert all("grandpa" not in {v["name"] for v in body["voices"]} for body in listed.values())


def test_a_replica_killed_mid_stream_ends_that_stream_and_the_next_is_served(ray_server):
    connection, response = ray_server.speech(STORY * 4)
    assert response.status == 200 and response.read1(4096)
    replica = response.getheader("X-Replica")
    os.kill(ray_server.replica_state(replica, "/v1/replica")["pid"], signal.SIGKILL)
    # The client learns the stream broke (no clean end of a chunked body), within seconds.
    with pytest.raises((http.client.IncompleteRead, http.client.HTTPException, OSError)):
        response.read()
    connection.close()
    connection, response = ray_server.speech("The show goes on.")
    assert response.status == 200 and len(response.read()) > 22050
    assert response.getheader("X-Replica") != replica
    connection.close()
    # Serve replaces the dead replica.
    ray_server.each_replica("/v1/replica", timeout=90)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--min-replicas", "3", "--max-replicas", "2"], "need 1 <= min_replicas (3)"),
        (["--min-replicas", "0"], "need 1 <= min_replicas (0)"),
        (["--max-concurrent", "0"], "--max-concurrent must be >= 1"),
    ],
)
def test_bad_scale_options_are_a_clear_error_before_ray_starts(flags, message):
    result = subprocess.run(
        [sys.executable, "-m", "tts_plugin", "serve", "--ray", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_ray_replica_builds_its_app_without_importing_the_cli():
    # The replica is handed typed settings; it used to import tts_plugin.cli, which imports it.
    code = "import sys, tts_plugin.server.ray_app; print('tts_plugin.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
