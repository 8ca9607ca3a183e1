"""Voice-to-voice and barge-in latency of the running agent, measured at a WebRTC client.

    python benchmarks/voice_latency.py [--turns 12] [--set turns.vad_start_secs=0.15 ...]
        [--link clean --link loss=0.05,jitter=40] [--root /tmp/before --root .]
        [--profile embedded --profile multilingual]

Starts the agent (a profile, the embedded one by default, plus any --set overrides) on loopback and connects a real aiortc
client that plays recorded questions as its microphone and records what it hears.
- voice-to-voice: the last frame of the user's question above the speech level leaves the client
  (the clip's own trailing silence does not count) → the first bot audio frame above it arrives.
- barge-in: the bot is speaking (`speak` of a long text); the user's first frame above the speech
  level leaves the client → the bot's audio at the client goes silent (and stays silent until the user has finished).
Prints medians and p90s as Markdown, and the agent's own per-stage metrics over the voice-to-voice
turns (Pipecat's TTFB and processing-time metrics from its log): VAD stop → transcript (STT TTFB),
the transcription itself, transcript → first LLM token, first sentence → first TTS audio.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from agent.jitter import AIORTC_AUDIO_PREFETCH
from agent.lossy_link import LinkConditions
from agent.process import ROOT, start_agent
from agent.webrtc_client import VoiceClient
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

QUESTIONS = [
    "What is the capital of France?",
    "How are you today?",
    "Can you recommend a good book?",
    "What is your favourite colour?",
    "Tell me something about the ocean.",
    "What should I cook for dinner?",
    "Is it going to rain tomorrow?",
    "What is two plus two?",
    "Where do penguins live?",
    "Why is the sky blue?",
    "Do you like music?",
    "What time do people usually have lunch?",
]
STORY = (
    "Once upon a time, in a small village by the sea, there lived an old fisherman, who every "
    "morning rowed his little boat out past the rocks, and every evening came home with a basket "
    "full of silver fish for his neighbours, who loved him dearly."
)
INTERRUPTIONS = ["Wait, stop please.", "Hold on a second.", "Sorry, one question."]


_METRIC = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .* - (\w+)#\d+ (TTFB|processing time): ([0-9.]+)s$"
)
STAGES = [
    ("STT: VAD stop → transcript", "STTService", "TTFB"),
    ("STT: transcription itself", "STTService", "processing time"),
    ("LLM: first token", "LLMService", "TTFB"),
    ("TTS: first audio", "TTSService", "TTFB"),
]


def stage_breakdown(log: Path, since: datetime, until: datetime) -> dict[str, list[float]]:
    """The agent's Pipecat metrics between two wall-clock times, per stage."""
    values: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for line in log.read_text(errors="replace").splitlines():
        match = _METRIC.match(line)
        if not match:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f")
        if not since <= at <= until:
            continue
        for name, service, kind in STAGES:
            if match.group(2).endswith(service) and match.group(3) == kind:
                values[name].append(float(match.group(4)))
    return values


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def summary(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
        f"{percentile(values, 90) * 1000:.0f} | {min(values) * 1000:.0f}–{max(values) * 1000:.0f} |"
    )


async def voice_to_voice(
    client: VoiceClient, voices: dict[str, np.ndarray], turns: int
) -> tuple[list[float], int]:
    """Voice-to-voice per answered turn, and how many turns got no answer within 30 s."""
    results, unanswered = [], 0
    for question in (QUESTIONS * 2)[:turns]:
        asked = await client.say(voices[question], 22050).sent()
        try:
            start = await client.wait_for_speech(asked.speech_ended_at, timeout=30)
        except TimeoutError:
            unanswered += 1
            continue
        results.append(start - asked.speech_ended_at)
        await client.wait_for_silence(start, hold=1.2, timeout=60)
        await asyncio.sleep(0.5)
    return results, unanswered


async def barge_in(client: VoiceClient, voices: dict[str, np.ndarray], trials: int) -> list[float]:
    results = []
    for i in range(trials):
        sent = time.monotonic()
        await client.request("speak", {"text": STORY})
        await client.wait_for_speech(sent, timeout=30)
        await asyncio.sleep(1.0 + 0.37 * (i % 3))  # vary where in a word the user cuts in
        utterance = client.say(voices[INTERRUPTIONS[i % len(INTERRUPTIONS)]], 22050)
        await utterance.sent()
        onset = utterance.speech_started_at
        silent = client.recording.quiet_through(onset, utterance.ended_at)
        if silent is None:
            print(f"trial {i}: the bot did not go quiet while the user spoke", flush=True)
        else:
            results.append(silent - onset)
        # Let the bot answer the interruption and finish before the next trial.
        answer = await client.wait_for_speech(utterance.ended_at, timeout=30)
        await client.wait_for_silence(answer, hold=1.2, timeout=60)
        await asyncio.sleep(0.5)
    return results


async def measure_link(
    agent, log: Path, voices: dict[str, np.ndarray], turns: int, prefetch: int, link: LinkConditions
) -> None:
    """One session over `link`: its voice-to-voice turns, then its barge-ins; prints the tables."""
    client = VoiceClient(agent.url, audio_prefetch=prefetch, link=link)
    await client.connect()
    await asyncio.sleep(1.0)
    since = datetime.now()
    v2v, unanswered = await voice_to_voice(client, voices, turns)
    stages = stage_breakdown(log, since, datetime.now())
    barge = await barge_in(client, voices, turns)
    alive = agent.health()["sessions"] == 1
    await client.close()
    counts = client.link_counts
    print(f"\n#### link: {link.label()}\n")
    if counts is not None:
        print(
            f"media packets dropped: {counts.sent_dropped}/{counts.sent} sent, "
            f"{counts.received_dropped}/{counts.received} received; "
            f"{unanswered} of {turns} turns unanswered; session alive at the end: {alive}\n"
        )
    print("| measured at the client | n | median (ms) | p90 (ms) | range (ms) |")
    print("| --- | --- | --- | --- | --- |")
    if v2v:
        print(summary("voice-to-voice", v2v))
    if barge:
        print(summary("barge-in", barge))
    print("\n| inside the agent, voice-to-voice turns | n | median (ms) | p90 (ms) | range (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in stages.items():
        if values:
            print(summary(name, values))


async def run(
    turns: int,
    overrides: list[str],
    client_prefetch: int,
    links: list[LinkConditions],
    roots: list[Path],
    profiles: list[str | None],
) -> None:
    engine = EmbeddedEngine()
    engine.load()
    texts = QUESTIONS + INTERRUPTIONS
    voices = {
        t: np.concatenate(list(engine.stream(SynthesisRequest(text=t), threading.Event())))
        for t in texts
    }
    print(
        f"overrides: {' '.join(overrides) or '(none)'}; client prefetch {client_prefetch} packets"
    )
    # One agent after another (a checkout of the code before a change, another profile): one run.
    for root, profile in ((r, p) for r in roots for p in profiles):
        log = Path(tempfile.mkdtemp()) / "agent.log"
        agent = start_agent(log, *overrides, profile=profile, cwd=root, timeout=300)
        print(f"\n### agent from {root.resolve()}, profile {profile or 'default'}; log: {log}")
        try:
            for link in links:  # one session after another, on the same agent: the same run
                await measure_link(agent, log, voices, turns, client_prefetch, link)
        finally:
            agent.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--client-prefetch",
        type=int,
        default=AIORTC_AUDIO_PREFETCH,
        help="packets the client holds before it hears the bot (aiortc's own: 4; a browser ~1)",
    )
    parser.add_argument(
        "--link",
        action="append",
        type=LinkConditions.parse,
        metavar="SPEC",
        help="the network between client and agent, one session each: clean (default) or "
        "loss=0.05,jitter=40,delay=20 (agent/lossy_link.py); repeat to compare in one run",
    )
    parser.add_argument(
        "--root",
        action="append",
        type=Path,
        help="run the agent from this checkout (python -m agent there); repeat to compare "
        "versions in one run (default: this one)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        help="the agent's profile (configs/); repeat to compare profiles in one run",
    )
    args = parser.parse_args()
    links = args.link or [LinkConditions()]
    roots = args.root or [ROOT]
    profiles = args.profile or [None]
    asyncio.run(run(args.turns, args.set, args.client_prefetch, links, roots, profiles))


if __name__ == "__main__":
    main()
