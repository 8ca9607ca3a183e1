"""Many sessions in a row: does the agent give back what each one took?

    python benchmarks/session_soak.py [--sessions 200] [--warmup 20] [--vanish-every 4]

Starts the agent (embedded profile, default cap) on loopback and runs sessions back to back in as
many lanes as the cap allows. A polite session connects a real aiortc client, asks one recorded
question, waits for the spoken answer and hangs up; every `--vanish-every`-th session is a peer in
its own process that connects, talks for a moment and is SIGKILLed (no goodbye, no DTLS close),
like a closed laptop. After the warm-up sessions and again after the rest (once every slot is
free), it reads the agent's process tree from /proc and its own counts from `/health`: RSS (agent
plus its llama.cpp child), threads, open file descriptors, child processes, asyncio tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.process import AgentProcess, start_agent
from agent.webrtc_client import VoiceClient
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

SNAPSHOT_EVERY = 50
QUESTIONS = ["What is the capital of France?", "How are you today?", "Where do penguins live?"]
# A peer that connects, keeps its microphone open a moment and prints when it is in.
VANISHING_PEER = """
import asyncio, sys
from agent.webrtc_client import VoiceClient

async def main():
    client = VoiceClient(sys.argv[1], pings=False)
    await client.connect(timeout=60)
    print("connected", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@dataclass
class Snapshot:
    rss_mib: float
    agent_rss_mib: float
    threads: int
    fds: int
    children: int
    tasks: int

    def row(self, name: str) -> str:
        return (
            f"| {name} | {self.rss_mib:.0f} | {self.agent_rss_mib:.0f} | {self.threads} | {self.fds} | "
            f"{self.children} | {self.tasks} |"
        )


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _rss_kib(pid: int) -> int:
    for line in _proc(pid, "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def snapshot(agent: AgentProcess) -> Snapshot:
    pid = agent.process.pid
    children = _children(pid)
    tree = [pid, *children]
    health = agent.health()
    return Snapshot(
        rss_mib=sum(_rss_kib(p) for p in tree) / 1024,
        agent_rss_mib=_rss_kib(pid) / 1024,
        threads=len(list(Path(f"/proc/{pid}/task").iterdir())),
        fds=len(list(Path(f"/proc/{pid}/fd").iterdir())),
        children=len(children),
        tasks=health["process"]["asyncio_tasks"],
    )


async def polite_session(url: str, voice: np.ndarray) -> bool:
    """Connect, ask, hear the answer begin and end, hang up; False if it went unanswered."""
    client = VoiceClient(url)
    try:
        await client.connect(timeout=60)
        await asyncio.sleep(0.5)
        asked = await client.say(voice, 22050).sent()
        start = await client.wait_for_speech(asked.ended_at, timeout=30)
        await client.wait_for_silence(start, hold=1.0, timeout=60)
        return True
    except TimeoutError:
        return False
    finally:
        await client.close()


async def vanishing_session(url: str) -> bool:
    peer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", VANISHING_PEER, url, stdout=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(peer.stdout.readline(), 90)
        await asyncio.sleep(2.0)
        return line == b"connected\n"
    finally:
        peer.send_signal(signal.SIGKILL)
        await peer.wait()


async def lane(url: str, numbers: list[int], voices: list[np.ndarray], vanish_every: int) -> int:
    """Run these sessions one after another; return how many went as planned."""
    done = 0
    for n in numbers:
        while True:  # a vanished peer's slot frees within seconds: wait for it
            try:
                if vanish_every and n % vanish_every == vanish_every - 1:
                    ok = await vanishing_session(url)
                else:
                    ok = await polite_session(url, voices[n % len(voices)])
                break
            except RuntimeError as e:
                if "503" not in str(e):
                    raise
                await asyncio.sleep(1.0)
        done += ok
    return done


async def sessions(agent: AgentProcess, count: int, start: int, lanes: int, **kw) -> int:
    numbers = list(range(start, start + count))
    results = await asyncio.gather(
        *(lane(agent.url, numbers[i::lanes], **kw) for i in range(lanes))
    )
    deadline = time.monotonic() + 30
    while agent.health()["sessions"] and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)  # let the last sessions' cleanup finish
    return sum(results)


async def run(total: int, warmup: int, vanish_every: int) -> None:
    engine = EmbeddedEngine()
    engine.load()
    voices = [
        np.concatenate(list(engine.stream(SynthesisRequest(text=q), threading.Event())))
        for q in QUESTIONS
    ]
    log = Path(tempfile.mkdtemp()) / "agent.log"
    agent = start_agent(log)
    try:
        lanes = agent.health()["max_sessions"]
        kw = {"voices": voices, "vanish_every": vanish_every}
        began = time.monotonic()
        ok = await sessions(agent, warmup, 0, lanes, **kw)
        rows = [(f"after {warmup} warm-up sessions", snapshot(agent))]
        for start in range(0, total, SNAPSHOT_EVERY):
            count = min(SNAPSHOT_EVERY, total - start)
            ok += await sessions(agent, count, warmup + start, lanes, **kw)
            rows.append((f"after {start + count} more", snapshot(agent)))
        minutes = (time.monotonic() - began) / 60
    finally:
        agent.stop()
    print(f"{warmup} warm-up + {total} sessions in {minutes:.1f} min, {lanes} lanes, every ")
    print(f"{vanish_every}th peer SIGKILLed; as planned: {ok}/{warmup + total}; log: {log}\n")
    print("| when | RSS tree (MiB) | agent alone | threads | fds | children | asyncio tasks |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, row in rows:
        print(row.row(name))
    before, after = rows[0][1], rows[-1][1]
    print(f"\nRSS change: {100 * (after.rss_mib - before.rss_mib) / before.rss_mib:+.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--vanish-every", type=int, default=4, help="0: every peer hangs up")
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.warmup, args.vanish_every))


if __name__ == "__main__":
    main()
