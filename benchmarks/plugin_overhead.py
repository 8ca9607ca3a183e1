"""Plugin overhead: engine yields its first chunk → the first `TTSAudioRawFrame` leaves the service.

    python benchmarks/plugin_overhead.py [--runs 30]

The real embedded engine runs inside `IndexTTS2TTSService` in a Pipecat pipeline (Pipecat's own
`run_test` harness); a thin wrapper notes when the engine hands over each request's first chunk and a
processor after the service notes when that chunk's audio frame arrives. The difference is what the
plugin adds: the worker-thread hop, frame creation, metrics and Pipecat's queues. Prints the median
and p90 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

from loguru import logger
from pipecat.frames.frames import Frame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine
from tts_plugin.service import IndexTTS2TTSService

SENTENCES = [
    "Sure, I can help with that.",
    "The train leaves at nine in the morning.",
    "Let me think about it for a moment.",
]


class FirstChunkClock:
    """The embedded engine, noting when each request's first chunk is handed over."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self._engine = engine
        self.name, self.sample_rate = engine.name, engine.sample_rate
        self.capabilities = engine.capabilities
        self.first_chunk_at: list[float] = []

    def load(self) -> None:
        self._engine.load()

    def stream(self, request: SynthesisRequest, cancel: threading.Event):
        for index, chunk in enumerate(self._engine.stream(request, cancel)):
            if index == 0:
                self.first_chunk_at.append(time.perf_counter())
            yield chunk


class FirstFrameClock(FrameProcessor):
    """Notes when the first audio frame of each utterance passes (utterances are 1 s apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.first_frame_at: list[float] = []
        self._last = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            now = time.perf_counter()
            if now - self._last > 0.5:
                self.first_frame_at.append(now)
            self._last = now
        await self.push_frame(frame, direction)


async def measure(runs: int) -> list[float]:
    engine = FirstChunkClock(EmbeddedEngine())
    engine.load()
    clock = FirstFrameClock()
    frames: list[Frame] = []
    for i in range(runs):
        frames += [TTSSpeakFrame(SENTENCES[i % len(SENTENCES)]), SleepFrame(1.5)]
    await run_test(Pipeline([IndexTTS2TTSService(engine=engine), clock]), frames_to_send=frames)
    pairs = zip(engine.first_chunk_at, clock.first_frame_at, strict=True)
    return [(frame - chunk) * 1000 for chunk, frame in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    logger.remove()
    delays = sorted(asyncio.run(measure(args.runs)))
    p90 = delays[int(0.9 * (len(delays) - 1))]
    print(f"plugin overhead over {len(delays)} utterances: median {statistics.median(delays):.2f} ms, "
          f"p90 {p90:.2f} ms, max {delays[-1]:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
