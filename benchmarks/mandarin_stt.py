"""How well Whisper base hears the embedded engine's Mandarin voice (espeak-ng), phrase by phrase.

    python benchmarks/mandarin_stt.py [--language zh]

Each everyday phrase is spoken by `EmbeddedEngine` and transcribed by the bundled Whisper base
(`bundled:base`, the multilingual profile's model), language detected unless `--language` is given.
Prints a Markdown table: phrase, detected language, transcript.
"""

from __future__ import annotations

import argparse
import threading

import numpy as np
import soxr
from faster_whisper import WhisperModel

from agent.stt import resolve_whisper_model
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

PHRASES = [
    "你好，你叫什么名字？",
    "今天天气怎么样？",
    "中国的首都是哪里？",
    "你好吗？",
    "我今天很难过。",
    "请给我讲一个故事。",
    "一加一等于几？",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--language", default=None, help="force a language (default: detect)")
    args = parser.parse_args()
    engine = EmbeddedEngine()
    engine.load()
    model = WhisperModel(
        resolve_whisper_model("bundled:base"), device="cpu", compute_type="int8", cpu_threads=2
    )
    print("| phrase | detected | transcript |\n| --- | --- | --- |")
    for phrase in PHRASES:
        chunks = engine.stream(SynthesisRequest(text=phrase), threading.Event())
        pcm = np.concatenate(list(chunks)).astype(np.float32) / 32768
        audio = soxr.resample(pcm, engine.sample_rate, 16000)
        segments, info = model.transcribe(audio, beam_size=1, language=args.language)
        print(f"| {phrase} | {info.language} | {''.join(s.text for s in segments).strip()} |")


if __name__ == "__main__":
    main()
