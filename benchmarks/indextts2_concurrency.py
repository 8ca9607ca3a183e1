"""Concurrent IndexTTS2 streams on one loaded model: shared decode steps against lock-step turns.

    python benchmarks/indextts2_concurrency.py --model-dir DIR [--device cuda] [--streams 1,2,4,8]
        [--max-codes 48] [--decode-only]

N requests (different texts and emotions, one text segment each) start together on one engine,
first with every decode step run alone under the model lock, turn by turn (`max_batch=1`: how the
engine served concurrency before `step_batch.py`), then with the steps shared (`max_batch=N`), in
the same run on the same loaded model. Per cell: aggregate semantic codes per second (all streams'
codes / wall time), each stream's first audio (request → first audio chunk) and RTF. A random GPT
never stops, so every stream is held to `--max-codes`. `--decode-only` times the GPT alone (codes
taken as they come, nothing vocoded), which is what the shared step changes; without it the chunk
work (codec, DiT, BigVGAN, one stream at a time) is in the wall too.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tts_plugin.emotion import Emotion
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.indextts2 import IndexTTS2Engine, Sampling
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.decode import request_generator, sample_codes
from tts_plugin.engines.indextts2.step_batch import StepBatcher

TEXTS = [
    "Hello there, how are you today?",
    "The weather is lovely this morning.",
    "Please leave the keys on the table.",
    "We will meet again after lunch.",
    "Turn left at the next corner, then stop.",
    "My favourite colour has always been green.",
    "The train leaves at half past nine.",
    "Thank you so much for your help.",
]
EMOTIONS = ["neutral", "happy", "sad", "angry", "calm", "surprised", "afraid", "neutral"]


def speak(engine: IndexTTS2Engine, index: int, started: float) -> tuple[float, float, float]:
    """(first audio, end, audio seconds) of one request, times from `started`."""
    request = SynthesisRequest(TEXTS[index], emotion=Emotion(preset=EMOTIONS[index]))
    first, audio = None, 0
    for chunk in engine.stream(request, threading.Event()):
        if first is None and chunk.any():
            first = time.perf_counter() - started
        audio += len(chunk)
    return first or 0.0, time.perf_counter() - started, audio / engine.sample_rate


def decode(engine: IndexTTS2Engine, index: int, started: float) -> tuple[float, float, float]:
    """(first code, end, codes) of one request's GPT decoding alone, nothing vocoded."""
    models, sampling = engine._models, engine._sampling
    voice = engine._voice(None)
    emotion = engine._emotion(voice, Emotion(preset=EMOTIONS[index]))
    tokens = engine._segments(TEXTS[index], "en")[0]
    with engine._model_call(gpt=True):
        decoder = models.decoder(voice, emotion, tokens, "en", sampling.max_codes)
    first, codes = None, 0
    for _ in sample_codes(
        decoder, models.stop_code, models.codebook_size, sampling, threading.Event(),
        engine._steps, StreamClock(), request_generator(None, models.device),
    ):  # fmt: skip
        first = first or time.perf_counter() - started
        codes += 1
    return first or 0.0, time.perf_counter() - started, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--half", action="store_true", help="the GPT in fp16 (v2) / bf16 (2.5)")
    parser.add_argument("--streams", default="1,2,4,8")
    parser.add_argument("--max-codes", type=int, default=48)
    parser.add_argument("--decode-only", action="store_true", help="the GPT alone, no vocoding")
    args = parser.parse_args()
    engine = IndexTTS2Engine(
        args.model_dir, device=args.device, fp16=args.half, bf16=args.half,
        sampling=Sampling(max_codes=args.max_codes), text_normalization=False,
    )  # fmt: skip
    engine.load()
    engine._voice(None)  # conditioned once, outside the timings
    counts = [int(n) for n in args.streams.split(",")]
    run = decode if args.decode_only else speak
    first_label = "first code" if args.decode_only else "first audio"
    print(f"{engine.generation} on {engine._models.device}, {args.max_codes} codes per stream, "
          f"{'decode only' if args.decode_only else 'decode + vocode'}\n")  # fmt: skip
    print(f"| streams | method | codes/s (all streams) | × lone | {first_label} median / worst (s) "
          f"| worst vs lone | RTF median |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    lone = {}
    for n in counts:
        for method, batch in (("lock-step turns", 1), ("shared steps", n)):
            engine._steps = StepBatcher(
                lambda key: engine._model_call(gpt=True, key=key), max_batch=batch
            )
            started = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                results = list(pool.map(run, [engine] * n, range(n), [started] * n))
            wall = max(end for _, end, _ in results)
            rate = n * args.max_codes / wall
            firsts = [first for first, _, _ in results]
            lone.setdefault(method, (rate, max(firsts)))
            rtf = statistics.median(end / amount for _, end, amount in results)
            rtf_cell = "" if args.decode_only else f"{rtf:.2f}"
            print(f"| {n} | {method} | {rate:.1f} | ×{rate / lone['lock-step turns'][0]:.2f} | "
                  f"{statistics.median(firsts):.2f} / {max(firsts):.2f} | "
                  f"×{max(firsts) / lone['lock-step turns'][1]:.2f} | {rtf_cell} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
