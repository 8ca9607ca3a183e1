"""What each emotion preset does to the embedded engine's delivery, measured on its audio.

    python benchmarks/emotion_prosody.py [--runs 5] [--presets neutral,serious,angry,happy,sad]

Per preset, medians over `--runs` renderings (Piper samples phoneme durations) of one sentence with
commas: pause share (20 ms frames without speech), speech rate against neutral (neutral's speech
seconds / the preset's, pauses excluded), level of the speech frames (dB against neutral) and median
F0. The measures are the tests' (`tests/audio_analysis.py`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))

from audio_analysis import (  # noqa: E402
    f0_range_semitones,
    median_f0,
    pause_share,
    speech_level_db,
    speech_seconds,
)

from tts_plugin.emotion import Emotion  # noqa: E402
from tts_plugin.engine import SynthesisRequest  # noqa: E402
from tts_plugin.engines.embedded import EmbeddedEngine  # noqa: E402

TEXT = (
    "Well, I think that the weather today is lovely, and we should go for a long walk in the "
    "park, maybe with a basket of sandwiches and some cold lemonade."
)
MEASURES = (pause_share, speech_seconds, speech_level_db, median_f0, f0_range_semitones)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--presets", default="neutral,serious,angry,happy,sad")
    args = parser.parse_args()
    engine = EmbeddedEngine()
    engine.load()
    rate = engine.sample_rate
    results = {}
    for preset in args.presets.split(","):
        request = SynthesisRequest(TEXT, emotion=Emotion(preset=preset))
        renders = [
            np.concatenate(list(engine.stream(request, threading.Event())))
            for _ in range(args.runs)
        ]
        results[preset] = [statistics.median(m(a, rate) for a in renders) for m in MEASURES]
    pause0, speech0, level0, f0, range0 = results.get("neutral", next(iter(results.values())))
    print(f"Embedded engine (Piper), {args.runs} renderings per preset, medians\n")
    print(
        "| preset | pause share | × neutral | speech rate × neutral | level vs neutral "
        "| F0 × neutral | F0 range p10–p90 (semitones) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for preset, (pause, speech, level, pitch, span) in results.items():
        print(f"| {preset} | {pause:.3f} | ×{pause / pause0:.2f} | ×{speech0 / speech:.2f} | "
              f"{level - level0:+.1f} dB | ×{pitch / f0:.2f} | {span:.1f} (×{span / range0:.2f}) |")  # fmt: skip


if __name__ == "__main__":
    main()
