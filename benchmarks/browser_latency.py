"""Voice-to-voice and barge-in as the page itself measures them, in a real headless Chromium.

    python benchmarks/browser_latency.py [--cycles 2] [--set KEY=VALUE ...]

Starts the agent (embedded profile plus any --set overrides) on loopback and opens its page in
Debian's Chromium, whose fake microphone loops a track of spoken cues (one every CUE_SECS). The
page's own readouts are the figures: what a user sees in the latency panel, with Chrome's WebRTC
stack (its adaptive jitter buffer, its echo canceller) on both ends of the page.
- voice-to-voice phase (`--cycles` loops of the track): the cues are questions the bot answers.
- barge-in phase (as many loops): the bot reads a long text (the Speak box, clicked again whenever
  it falls quiet), so every cue talks over it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np
import soxr
from playwright.sync_api import Page, sync_playwright

from agent.process import start_agent
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

CUES = [
    "What is the capital of France?",
    "Wait, stop please.",
    "How are you today?",
    "Hold on a second.",
    "Where do penguins live?",
    "Sorry, one question.",
    "Why is the sky blue?",
    "No, that is enough.",
]
CUE_SECS = 8.0
STORY = (
    "Once upon a time, in a small village by the sea, there lived an old fisherman, who every "
    "morning rowed his little boat out past the rocks, and every evening came home with a basket "
    "full of silver fish for his neighbours, who loved him dearly and sang songs about his boat, "
    "and about the storms he had seen, and about the whale that once followed him all the way home."
)
CAPTURE_RATE = 48000
QUIET_BEFORE_SPEAK_SECS = 0.8


def microphone_track(engine: EmbeddedEngine, path: Path) -> float:
    """Write the looping microphone WAV (each cue 0.5 s into its slot); return its length in s."""
    track = np.zeros(int(len(CUES) * CUE_SECS * CAPTURE_RATE), dtype=np.float32)
    for i, text in enumerate(CUES):
        pcm = np.concatenate(list(engine.stream(SynthesisRequest(text=text), threading.Event())))
        speech = soxr.resample(pcm.astype(np.float32) / 32768, engine.sample_rate, CAPTURE_RATE)
        start = int((i * CUE_SECS + 0.5) * CAPTURE_RATE)
        track[start : start + len(speech)] = speech
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(CAPTURE_RATE)
        wav.writeframes((np.clip(track, -1, 1) * 32767).astype(np.int16).tobytes())
    return len(track) / CAPTURE_RATE


def metrics(page: Page, kind: str) -> list[float]:
    return page.evaluate(f"() => window.agentUi.metrics.{kind}")


def keep_the_bot_talking(page: Page, seconds: float) -> None:
    """Click Speak whenever the bot has been quiet a while, so every cue is a barge-in."""
    quiet_since = time.monotonic()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        levels = page.evaluate("() => window.agentUi.levels || {mic: 0, bot: 0}")
        now = time.monotonic()
        if levels["bot"] > 0.02 or levels["mic"] > 0.02:
            quiet_since = now
        elif now - quiet_since > QUIET_BEFORE_SPEAK_SECS:
            page.fill("#speak-text", STORY)  # the page empties the box once it is sent
            page.get_by_role("button", name="Speak").click()
            quiet_since = now + 2.0  # give the first audio time to arrive
        time.sleep(0.05)


def summary(name: str, values_ms: list[float]) -> str:
    if not values_ms:
        return f"| {name} | 0 | – | – | – |"
    return (
        f"| {name} | {len(values_ms)} | {statistics.median(values_ms):.0f} | "
        f"{np.percentile(values_ms, 90):.0f} | {min(values_ms):.0f}–{max(values_ms):.0f} |"
    )


def run(cycles: int, overrides: list[str]) -> None:
    engine = EmbeddedEngine()
    engine.load()
    workdir = Path(tempfile.mkdtemp())
    loop_secs = microphone_track(engine, workdir / "mic.wav")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    agent = start_agent(workdir / "agent.log", *overrides)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                args=[
                    "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={workdir / 'mic.wav'}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )  # fmt: skip
            page = browser.new_page()
            page.goto(agent.url)
            page.get_by_role("button", name="Connect").click()
            page.wait_for_function("() => window.agentUi.state === 'connected'", timeout=30000)
            time.sleep(cycles * loop_secs)
            v2v = metrics(page, "v2v")
            barge_before = len(metrics(page, "bargein"))
            keep_the_bot_talking(page, cycles * loop_secs)
            barge = metrics(page, "bargein")[barge_before:]
            browser.close()
    finally:
        agent.stop()
    print(f"overrides: {' '.join(overrides) or '(none)'}; agent log: {workdir / 'agent.log'}\n")
    print("| measured by the page in Chromium | n | median (ms) | p90 (ms) | range (ms) |")
    print("| --- | --- | --- | --- | --- |")
    print(summary("voice-to-voice", v2v))
    print(summary("barge-in", barge))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=2, help="loops of the cue track per phase")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    run(args.cycles, args.set)


if __name__ == "__main__":
    main()
