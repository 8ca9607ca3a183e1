"""Time to first byte vs the whole body from the TTS server, streaming and not, on one long text.

    python benchmarks/tts_server_stream.py [--runs 5]

Serves the embedded engine on a loopback port (in-process uvicorn) and times `POST /v1/audio/speech`
at the client: first audio byte and last byte, medians over the runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import threading
import time

import uvicorn

from tts_plugin.engines.embedded import EmbeddedEngine
from tts_plugin.server.app import create_app

TEXT = (
    "Well, I think that the weather today is lovely, and we should go for a long walk in the park; "
    "maybe we can even bring a basket with sandwiches, fruit, and lemonade. What do you say?"
)


def timed_request(port: int, stream: bool) -> tuple[float, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    body = {"input": TEXT, "stream": stream, "sample_rate": None}
    connection.request(
        "POST", "/v1/audio/speech", json.dumps(body), {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    first = response.read1(1)
    first_at = time.perf_counter() - started
    assert first, response.status
    response.read()
    return first_at, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(EmbeddedEngine()), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    timed_request(port, True)  # warm-up
    print("| mode | first byte, median (ms) | last byte, median (ms) |")
    print("| --- | --- | --- |")
    for stream in (True, False):
        runs = [timed_request(port, stream) for _ in range(args.runs)]
        first = statistics.median(r[0] for r in runs) * 1000
        last = statistics.median(r[1] for r in runs) * 1000
        print(f"| {'stream' if stream else 'whole body'} | {first:.0f} | {last:.0f} |")
    server.should_exit = True


if __name__ == "__main__":
    main()
