"""An aiortc audio track that plays PCM pushed into it, paced in real time, silence in between."""

from __future__ import annotations

import asyncio
import fractions
import time

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame


class PcmTrack(MediaStreamTrack):
    """Mono int16 PCM at `sample_rate`, sent as `frame_samples` frames; subclasses watch `on_frame`."""

    kind = "audio"

    def __init__(self, sample_rate: int = 48000, frame_samples: int = 960) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples
        self._pending = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self.sent_samples = 0

    @property
    def pending_samples(self) -> int:
        return len(self._pending)

    def push(self, pcm: np.ndarray) -> None:
        """Queue int16 samples after whatever is still to play."""
        self._pending = np.concatenate([self._pending, pcm.astype(np.int16, copy=False)])

    def on_frame(self, first_sample: int, now: float) -> None:
        """Called as the frame starting at `first_sample` (counted from the first frame) leaves."""

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.sent_samples / self.sample_rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        size = self.frame_samples
        chunk, self._pending = self._pending[:size], self._pending[size:]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros(size - len(chunk), np.int16)])
        self.on_frame(self.sent_samples, time.monotonic())
        frame = AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self.sent_samples
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        self.sent_samples += size
        return frame
