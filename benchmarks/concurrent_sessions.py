"""How many simultaneous voice sessions the default stack serves: turns answered and voice-to-voice.

    python benchmarks/concurrent_sessions.py --sessions 1 2 3 4 [--questions 3]

For each count N, starts the agent (embedded profile, `server.max_sessions=N`) on loopback, connects
N real aiortc clients at once, and has each ask `--questions` recorded questions in turn, paced
like a person (it waits for the answer, then 0.5 s). A turn is answered if bot speech reaches that
client within 30 s of the question's end. Prints, per N: turns answered, and voice-to-voice median,
p90 and max over all answered turns. The default cap is the largest N whose turns are all answered
with a p90 at most twice the single-session p90.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
from pathlib import Path

import numpy as np

from agent.process import start_agent
from agent.webrtc_client import VoiceClient
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

QUESTIONS = [
    "What is the capital of France?",
    "How are you today?",
    "Where do penguins live?",
    "What should I cook for dinner?",
]


async def converse(url: str, voices: list[np.ndarray], offset: float) -> list[float | None]:
    """One client's turns: voice-to-voice seconds, or None for an unanswered turn."""
    await asyncio.sleep(offset)  # people do not all speak in the same instant
    client = VoiceClient(url)
    await client.connect(timeout=60)
    results: list[float | None] = []
    try:
        await asyncio.sleep(1.0)
        for voice in voices:
            asked = await client.say(voice, 22050).sent()
            try:
                start = await client.wait_for_speech(asked.speech_ended_at, timeout=30)
            except TimeoutError:
                results.append(None)
                continue
            results.append(start - asked.speech_ended_at)
            await client.wait_for_silence(start, hold=1.2, timeout=60)
            await asyncio.sleep(0.5)
    finally:
        await client.close()
    return results


async def measure(sessions: int, voices: list[np.ndarray]) -> list[float | None]:
    log = Path(tempfile.mkdtemp()) / "agent.log"
    agent = start_agent(log, f"server.max_sessions={sessions}")
    try:
        runs = await asyncio.gather(
            *(converse(agent.url, voices, 0.7 * i) for i in range(sessions))
        )
    finally:
        agent.stop()
    return [t for run in runs for t in run]


async def run(counts: list[int], questions: int) -> None:
    engine = EmbeddedEngine()
    engine.load()
    voices = [
        np.concatenate(list(engine.stream(SynthesisRequest(text=q), threading.Event())))
        for q in (QUESTIONS * questions)[:questions]
    ]
    print("| sessions | turns answered | v2v median (ms) | v2v p90 (ms) | v2v max (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for count in counts:
        turns = await measure(count, voices)
        answered = [t for t in turns if t is not None]
        cells = ["–"] * 3
        if answered:
            cells = [
                f"{statistics.median(answered) * 1000:.0f}",
                f"{np.percentile(answered, 90) * 1000:.0f}",
                f"{max(answered) * 1000:.0f}",
            ]
        print(f"| {count} | {len(answered)}/{len(turns)} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--questions", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.questions))


if __name__ == "__main__":
    main()
