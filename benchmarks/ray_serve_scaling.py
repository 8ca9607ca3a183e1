"""Requests per second and time to first byte of the TTS server on Ray Serve, 1 vs N replicas.

    python benchmarks/ray_serve_scaling.py [--replicas 1 2] [--concurrency 1 2 4 8] [--requests 16]

For each replica count, starts `python -m tts_plugin serve --ray` (embedded engine, a local Ray
cluster) on loopback and, at each concurrency, keeps that many streaming requests of one sentence in
flight until `--requests` have finished. Prints completed requests per second, first-byte p50/p90
and 429s (refused: every replica and the queue full) as Markdown.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from agent.llm_server import free_port

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The quick brown fox jumps over the lazy dog, and then it runs back into the forest."


def request(port: int) -> tuple[int, float, float]:
    """(status, first byte s, whole body s) of one streamed speech request."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(
        "POST",
        "/v1/audio/speech",
        json.dumps({"input": TEXT, "response_format": "pcm"}),
        {"Content-Type": "application/json"},
    )
    response = connection.getresponse()
    response.read1(1)
    first = time.monotonic() - started
    response.read()
    connection.close()
    return response.status, first, time.monotonic() - started


def load(port: int, concurrency: int, total: int) -> dict[str, float]:
    results: list[tuple[int, float, float]] = []
    remaining = iter(range(total))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            outcome = request(port)
            with lock:
                results.append(outcome)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    served = [r for r in results if r[0] == 200]
    firsts = [r[1] * 1000 for r in served]
    return {
        "rps": len(served) / elapsed,
        "p50": statistics.median(firsts) if firsts else float("nan"),
        "p90": float(np.percentile(firsts, 90)) if firsts else float("nan"),
        "refused": sum(r[0] == 429 for r in results),
    }


def start(replicas: int, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "tts_plugin", "serve", "--ray", "--port", str(port),
         "--min-replicas", str(replicas), "--max-replicas", str(replicas), "--num-cpus", "0.5",
         "--max-waiting", "16"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seen: set[str] = set()
    deadline = time.monotonic() + 180
    while len(seen) < replicas:
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the Ray server did not come up")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v1/replica")
            seen.add(json.loads(connection.getresponse().read())["replica"])
        except (OSError, ValueError, KeyError):
            time.sleep(1)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--requests", type=int, default=16)
    args = parser.parse_args()
    print("| replicas | concurrency | requests/s | first byte p50 (ms) | p90 (ms) | 429s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for replicas in args.replicas:
        port = free_port()
        process = start(replicas, port)
        try:
            request(port)  # warm-up
            for concurrency in args.concurrency:
                r = load(port, concurrency, args.requests)
                print(
                    f"| {replicas} | {concurrency} | {r['rps']:.2f} | {r['p50']:.0f} | "
                    f"{r['p90']:.0f} | {r['refused']:.0f} |",
                    flush=True,
                )
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)


if __name__ == "__main__":
    main()
