"""A headless WebRTC peer for the agent, used by the tests and the latency benchmark.

It does what a browser tab does, with a recording instead of ears: sends a "microphone" track (PCM
you queue, silence otherwise) paced in real time, records every bot audio frame with its arrival
time, and speaks RTVI over a data channel (client-ready, client messages, server messages). All
times are `time.monotonic()` seconds taken at the client, so latencies are what a user would measure.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
import soxr
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from agent.jitter import set_audio_prefetch
from agent.lossy_link import LinkConditions, LinkCounts, impair
from tts_plugin.server.pcm_track import PcmTrack

SAMPLE_RATE = 48000
FRAME_SECS = 0.02
FRAME_SAMPLES = int(SAMPLE_RATE * FRAME_SECS)
# A received 20 ms frame above this RMS counts as bot speech (int16 scale; Opus noise is ~10).
SPEECH_RMS = 300.0


class MicrophoneTrack(PcmTrack):
    """Plays queued utterances in real time, silence in between, noting when each really left."""

    def __init__(self) -> None:
        super().__init__(sample_rate=SAMPLE_RATE, frame_samples=FRAME_SAMPLES)
        self._utterances: list[Utterance] = []

    def say(self, pcm: np.ndarray, sample_rate: int) -> Utterance:
        """Queue int16 mono speech; the returned record fills in when it is actually sent."""
        audio = pcm.astype(np.float32) / 32768.0
        if sample_rate != SAMPLE_RATE:
            audio = soxr.resample(audio, sample_rate, SAMPLE_RATE)
        samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        loud = _loud_frames(samples)
        utterance = Utterance(
            first_sample=self.sent_samples + self.pending_samples,
            samples=len(samples),
            speech_from=int(loud[0]) * FRAME_SAMPLES if len(loud) else 0,
            speech_to=(int(loud[-1]) + 1) * FRAME_SAMPLES if len(loud) else len(samples),
        )
        self.push(samples)
        self._utterances.append(utterance)
        return utterance

    def on_frame(self, first_sample: int, now: float) -> None:
        end = first_sample + FRAME_SAMPLES
        for u in self._utterances:
            if u.started_at is None and end > u.first_sample:
                u.started_at = now
            if u.speech_started_at is None and end > u.first_sample + u.speech_from:
                u.speech_started_at = now
            if u.speech_ended_at is None and end >= u.first_sample + u.speech_to:
                u.speech_ended_at = now + FRAME_SECS
            if u.ended_at is None and end >= u.first_sample + u.samples:
                u.ended_at = now + FRAME_SECS


def _loud_frames(samples: np.ndarray) -> np.ndarray:
    """Indices of the 20 ms frames above the speech level: a clip's own silence is not speech."""
    frames = len(samples) // FRAME_SAMPLES
    blocks = samples[: frames * FRAME_SAMPLES].astype(np.float32).reshape(frames, FRAME_SAMPLES)
    return np.flatnonzero(np.sqrt(np.mean(blocks**2, axis=1)) > SPEECH_RMS)


@dataclass
class Utterance:
    """When a queued utterance really left the client (None until it has).

    `speech_*` are its first and last frames above the speech level: a synthesised clip starts
    and ends with silence (0.2-0.4 s at the end of a Piper sentence), which no listener counts.
    """

    first_sample: int
    samples: int
    speech_from: int = 0
    speech_to: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    speech_started_at: float | None = None
    speech_ended_at: float | None = None

    async def sent(self, timeout: float = 60.0) -> Utterance:
        """Wait until the whole utterance has been sent."""
        deadline = time.monotonic() + timeout
        while self.ended_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError("utterance was not sent in time")
            await asyncio.sleep(0.01)
        return self


@dataclass
class Recording:
    """Bot audio as received: 20 ms-ish frames with arrival times."""

    times: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def add(self, at: float, samples: np.ndarray) -> None:
        self.times.append(at)
        self.frames.append(samples)

    def levels(self, since: float = 0.0) -> list[tuple[float, float]]:
        return [
            (t, float(np.sqrt(np.mean(f.astype(np.float64) ** 2))))
            for t, f in zip(self.times, self.frames, strict=True)
            if t >= since
        ]

    def speech_start(self, since: float = 0.0) -> float | None:
        """Arrival time of the first speech frame after `since`."""
        return next((t for t, level in self.levels(since) if level > SPEECH_RMS), None)

    def silence_start(self, since: float, hold: float = 0.3) -> float | None:
        """Start of the first run of silence lasting `hold` seconds after `since`."""
        run_start = None
        for t, level in self.levels(since):
            if level > SPEECH_RMS:
                run_start = None
            elif run_start is None:
                run_start = t
            elif t - run_start >= hold:
                return run_start
        return None

    def quiet_through(self, start: float, end: float) -> float | None:
        """When the bot went quiet after `start` and stayed quiet until `end` (None: it did not)."""
        quiet_from = None
        for t, level in self.levels(start):
            if t > end:
                break
            if level > SPEECH_RMS:
                quiet_from = None
            elif quiet_from is None:
                quiet_from = t
        return quiet_from

    def audio(self, start: float = 0.0, end: float = float("inf")) -> np.ndarray:
        """Mono int16 at 48 kHz between two arrival times."""
        picked = [f for t, f in zip(self.times, self.frames, strict=True) if start <= t <= end]
        return np.concatenate(picked) if picked else np.zeros(0, np.int16)

    def speech_seconds(self, start: float = 0.0, end: float = float("inf")) -> float:
        total = 0.0
        for (t, level), f in zip(self.levels(), self.frames, strict=True):
            if start <= t <= end and level > SPEECH_RMS:
                total += len(f) / SAMPLE_RATE
        return total


class RTVIError(RuntimeError):
    """The agent answered a client message with an error-response."""


class VoiceClient:
    """One WebRTC session with the agent."""

    def __init__(
        self,
        base_url: str,
        *,
        pings: bool = True,
        audio_prefetch: int | None = None,
        link: LinkConditions | None = None,
    ) -> None:
        """`pings=False` behaves like a plain SmallWebRTC peer (an aiortc script, another SDK)
        that never pings over the data channel. `audio_prefetch` packets held before the bot's
        audio is heard (None: aiortc's 4; 1 is closer to a browser's adaptive buffer). `link`
        drops and delays the media packets both ways (`lossy_link.py`); `link_counts` counts them."""
        self.base_url = base_url.rstrip("/")
        self._pings = pings
        self._audio_prefetch = audio_prefetch
        self._link = link
        self.link_counts: LinkCounts | None = None
        self.pc = RTCPeerConnection()
        self.mic = MicrophoneTrack()
        self.recording = Recording()
        self.messages: list[dict[str, Any]] = []
        self.pc_id: str | None = None
        self._channel = None
        self._pending: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        self._bot_ready = asyncio.Event()

    async def connect(self, timeout: float = 20.0) -> None:
        """Offer, get the answer, and wait until the bot says it is ready."""
        self.pc.addTrack(self.mic)
        if self._audio_prefetch is not None:
            set_audio_prefetch(self.pc, self._audio_prefetch)
        self._channel = self.pc.createDataChannel("rtvi")
        self._channel.on("message", self._on_message)
        self._channel.on(
            "open", lambda: self._send(self._rtvi("client-ready", {"version": "1.0.0"}))
        )
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.base_url}/api/offer",
                json={"sdp": self.pc.localDescription.sdp, "type": "offer"},
            ) as response,
        ):
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"offer refused ({response.status}): {body}")
        self.pc_id = body["pc_id"]
        if self._link is not None:
            self.link_counts = impair(self.pc, self._link)
        await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        if self._pings:
            self._tasks.append(asyncio.create_task(self._ping()))
        await asyncio.wait_for(self._bot_ready.wait(), timeout)

    def _on_track(self, track) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(self._record(track)))

    async def _record(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            # The first channel is enough: the bot speaks mono.
            array = frame.to_ndarray()
            if frame.format.is_planar:
                samples = array[0]
            else:
                samples = array.reshape(-1, len(frame.layout.channels))[:, 0]
            if frame.sample_rate != SAMPLE_RATE:
                samples = soxr.resample(samples, frame.sample_rate, SAMPLE_RATE)
            self.recording.add(time.monotonic(), samples.astype(np.int16))

    async def _ping(self) -> None:
        # Pipecat's JS client pings once a second; the server uses it to notice a vanished peer.
        while True:
            if self._channel and self._channel.readyState == "open":
                self._channel.send(f"ping: {time.time()}")
            await asyncio.sleep(1.0)

    def _on_message(self, raw: Any) -> None:
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            return
        message["_received_at"] = time.monotonic()
        self.messages.append(message)
        if message.get("type") == "bot-ready":
            self._bot_ready.set()
        future = self._pending.pop(message.get("id"), None)
        if future and not future.done():
            if message.get("type") == "error-response":
                future.set_exception(RTVIError(message.get("data", {}).get("error", "error")))
            else:
                future.set_result(message.get("data", {}).get("d"))

    @staticmethod
    def _rtvi(kind: str, data: Any, message_id: str | None = None) -> dict[str, Any]:
        return {
            "label": "rtvi-ai",
            "type": kind,
            "id": message_id or uuid.uuid4().hex[:8],
            "data": data,
        }

    def _send(self, message: dict[str, Any]) -> None:
        self._channel.send(json.dumps(message))

    async def request(self, kind: str, data: Any = None, timeout: float = 10.0) -> Any:
        """Send an RTVI client message and return the server-response's data (or raise RTVIError)."""
        message_id = uuid.uuid4().hex[:8]
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        self._send(self._rtvi("client-message", {"t": kind, "d": data}, message_id))
        return await asyncio.wait_for(future, timeout)

    def say(self, pcm: np.ndarray, sample_rate: int) -> Utterance:
        """Speak into the microphone."""
        return self.mic.say(pcm, sample_rate)

    def messages_of(self, kind: str, since: float = 0.0) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind and m["_received_at"] >= since]

    async def wait_for_message(self, kind: str, since: float = 0.0, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages_of(kind, since)
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {kind} message within {timeout} s")

    async def wait_for_speech(self, since: float, timeout: float = 30.0) -> float:
        """Arrival time of the bot's first speech after `since`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            start = self.recording.speech_start(since)
            if start is not None:
                return start
            await asyncio.sleep(0.02)
        raise TimeoutError(f"the bot did not speak within {timeout} s")

    async def wait_for_silence(
        self, since: float, hold: float = 0.3, timeout: float = 30.0
    ) -> float:
        """Start of the first `hold`-long silence after `since` (once that silence has lasted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            start = self.recording.silence_start(since, hold)
            if start is not None:
                return start
            await asyncio.sleep(0.02)
        raise TimeoutError(f"the bot did not go quiet within {timeout} s")

    async def close(self, *, polite: bool = True) -> None:
        """Leave the session: say goodbye (as Pipecat's JS client does) unless `polite` is False,
        which leaves like a killed tab."""
        if polite and self._channel and self._channel.readyState == "open":
            self._send(self._rtvi("disconnect-bot", None))
            await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
