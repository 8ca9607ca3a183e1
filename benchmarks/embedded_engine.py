"""First-chunk time and real-time factor of the embedded engine, per emotion and language.

    python benchmarks/embedded_engine.py [--runs 5]

Prints a Markdown table of medians. First chunk: request start → first PCM chunk out of the engine.
RTF: synthesis wall time / audio duration (lower is faster; < 1 is faster than real time).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from tts_plugin.emotion import Emotion
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

CASES = [
    ("en short", "Sure, I can help with that.", "neutral"),
    ("en long", "Well, I think that the weather today is lovely, and we should go for a long walk "
     "in the park, maybe with a basket of sandwiches and some cold lemonade.", "neutral"),
    ("en long, happy", "Well, I think that the weather today is lovely, and we should go for a "
     "long walk in the park, maybe with a basket of sandwiches and some cold lemonade.", "happy"),
    ("en long, sad", "Well, I think that the weather today is lovely, and we should go for a "
     "long walk in the park, maybe with a basket of sandwiches and some cold lemonade.", "sad"),
    ("en one clause", "The quick brown fox jumps over the lazy dog near the old river bank today.",
     "neutral"),
    ("zh", "你好，今天天气很好。我们去公园散步吧，好不好？", "neutral"),
]  # fmt: skip


def measure(engine: EmbeddedEngine, text: str, emotion: str) -> tuple[float, float, float]:
    request = SynthesisRequest(text=text, emotion=Emotion(preset=emotion))
    started = time.perf_counter()
    first = None
    samples = 0
    for chunk in engine.stream(request, threading.Event()):
        first = first if first is not None else time.perf_counter() - started
        samples += len(chunk)
    total = time.perf_counter() - started
    seconds = samples / engine.sample_rate
    return first or 0.0, total / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = EmbeddedEngine()
    started = time.perf_counter()
    engine.load()
    print(f"load + warm-up: {time.perf_counter() - started:.2f} s\n")
    print("| case | audio (s) | first chunk, median (s) | RTF, median |")
    print("| --- | --- | --- | --- |")
    for name, text, emotion in CASES:
        runs = [measure(engine, text, emotion) for _ in range(args.runs)]
        first = statistics.median(r[0] for r in runs)
        rtf = statistics.median(r[1] for r in runs)
        print(f"| {name} | {runs[0][2]:.2f} | {first:.3f} | {rtf:.3f} |")


if __name__ == "__main__":
    main()
