"""When the agent's VAD hears a question's speech pause, and when it calls the stop.

    python benchmarks/vad_pause.py

Each question is spoken by the embedded engine (the tests' "user"), framed by 0.5 s of silence and
fed to the agent's VAD (defaults) in 20 ms chunks as the transport does. Prints, per question, the
VAD's state changes against the last 20 ms window within 40 dB of the loudest: the pause
(`STOPPING`, where `agent/early_transcript.py` starts Whisper) and the stop (`QUIET`, where
Whisper started before).
"""

from __future__ import annotations

import threading

import numpy as np
import soxr
from pipecat.audio.vad.vad_analyzer import VADState

from agent.config import TurnConfig
from agent.vad import session_vad
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

QUESTIONS = [
    "What is the capital of France?",
    "Tell me about the history of France.",
    "Can you recommend a good book for a long train ride?",
    "I lost my job today.",
    "Hello.",
]
CHUNK = 320  # 20 ms at 16 kHz


def main() -> None:
    engine = EmbeddedEngine()
    engine.load()
    print(
        "| question | speech ends | VAD state changes (ms from the end of speech) | pause → stop |"
    )
    print("| --- | --- | --- | --- |")
    for text in QUESTIONS:
        speech = np.concatenate(list(engine.stream(SynthesisRequest(text), threading.Event())))
        speech = soxr.resample(speech.astype(np.float32), engine.sample_rate, 16000)
        silence = np.zeros(8000, np.float32)
        audio = np.concatenate([silence, speech, silence]).astype(np.int16)
        windows = audio[: len(audio) // CHUNK * CHUNK].astype(np.float32).reshape(-1, CHUNK)
        level = np.sqrt(np.mean(windows**2, axis=1))
        end = (np.flatnonzero(level > level.max() * 10 ** (-40 / 20))[-1] + 1) * 20
        vad, state, changes = session_vad(TurnConfig()), None, []
        vad.set_sample_rate(16000)
        for i, start in enumerate(range(0, len(audio) - CHUNK + 1, CHUNK)):
            now = vad._run_analyzer(audio[start : start + CHUNK].tobytes())
            if now != state:
                changes.append(((i + 1) * 20 - end, now))
                state = now
        stop = next(t for t, s in changes if s == VADState.QUIET and t > 0)
        pause = max(t for t, s in changes if s == VADState.STOPPING and t < stop)
        listed = ", ".join(f"{s.name} {t:+d}" for t, s in changes[1:])
        print(f"| {text} | {end - 500} ms in | {listed} | {stop - pause} ms |")


if __name__ == "__main__":
    main()
