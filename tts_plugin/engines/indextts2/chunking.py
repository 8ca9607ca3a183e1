"""When to vocode the semantic codes decoded so far, and how chunk joins are hidden.

Sub-sentence streaming vocodes codes while the GPT is still decoding. A small first chunk gets
audio out early; later chunks grow (each pays a fixed cost for the reference prefix, so bigger is
cheaper per second of audio). A chunk waits for `lookahead_seconds` of codes past its end, so the
stages that see a little of the future (the length regulator's convolutions, IndexTTS-2.5's codec,
the DiT, BigVGAN) see it at the chunk's last frames too; the next chunk speaks them again. Each
chunk's mel is generated with the reference and the previous chunk's last frames as its in-context
prefix, and the vocoder re-runs `vocoder_context_frames` of left context (BigVGAN's receptive field
is ±23 mel frames, measured); the last samples of every chunk are held back and crossfaded with the
next chunk's version of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tts_plugin.engine import EngineError
from tts_plugin.engine_factory import FIRST_CHUNK_SECONDS


@dataclass(frozen=True)
class ChunkSchedule:
    """Chunk sizes in seconds of audio: `first_seconds`, then ×`growth` per chunk up to
    `largest_seconds`. In audio time because generations decode at different rates
    (IndexTTS-2: 50 codes per second, IndexTTS-2.5: 25)."""

    first_seconds: float = FIRST_CHUNK_SECONDS
    growth: float = 2.0
    largest_seconds: float = 4.0
    # Audio of the previous chunk's mel that the DiT takes as in-context prefix per chunk.
    context_seconds: float = 0.32
    # Codes decoded past a chunk's end before it is vocoded (its right context), as audio time.
    lookahead_seconds: float = 0.16
    # Mel frames the vocoder re-runs on the left of each chunk: its receptive field; must cover
    # the crossfade.
    vocoder_context_frames: int = 24
    crossfade_samples: int = 1024

    def __post_init__(self) -> None:
        if not 0 < self.first_seconds <= self.largest_seconds:
            raise EngineError(
                f"chunk schedule: need 0 < first_seconds ({self.first_seconds}) <= largest_seconds"
            )
        if self.growth < 1.0:
            raise EngineError(f"chunk schedule: growth must be >= 1, got {self.growth}")
        if min(self.context_seconds, self.lookahead_seconds, self.vocoder_context_frames) < 0:
            raise EngineError("chunk schedule: context and lookahead sizes must be >= 0")
        if self.crossfade_samples > self.vocoder_context_frames * 256:
            raise EngineError(
                "chunk schedule: crossfade_samples must fit in the vocoder context "
                f"({self.vocoder_context_frames} frames x 256 samples)"
            )

    @staticmethod
    def codes(seconds: float, codes_per_second: int) -> int:
        return round(seconds * codes_per_second)

    def sizes(self, codes_per_second: int):
        """Chunk sizes in codes, forever (the caller stops at the end of the text)."""
        size = self.first_seconds
        while True:
            yield max(1, self.codes(size, codes_per_second))
            size = min(size * self.growth, self.largest_seconds)


class ChunkSizes:
    """One request's chunk sizes in codes, continued across its text segments: a later segment
    starts where the schedule stopped, not at the small first chunk, since first audio is long
    out by then and every chunk pays the DiT's reference prompt again."""

    def __init__(self, schedule: ChunkSchedule, codes_per_second: int) -> None:
        self._sizes = schedule.sizes(codes_per_second)
        self.target = next(self._sizes)

    def advance(self) -> None:
        self.target = next(self._sizes)


class Crossfader:
    """Joins overlapping audio chunks: holds back each chunk's tail and fades it into the next."""

    # A segment starts and ends with a short fade so it never clicks against the silence around it.
    EDGE = 256

    def __init__(self, samples: int) -> None:
        self._samples = samples
        self._tail = np.zeros(0, np.float32)
        self._started = False

    @property
    def overlap(self) -> int:
        """Samples the next chunk must repeat at its start (0 before the first chunk)."""
        return len(self._tail)

    def push(self, audio: np.ndarray, *, final: bool) -> np.ndarray:
        """`audio` starts `overlap` samples before the end of what was emitted; return new audio."""
        audio = audio.astype(np.float32, copy=False)
        n = len(self._tail)
        if n:
            # Both sides are renderings of the same samples, so fades that sum to one keep the level.
            fade_in = np.sin(np.linspace(0.0, np.pi / 2, n, dtype=np.float32)) ** 2
            audio = np.concatenate([self._tail * (1 - fade_in) + audio[:n] * fade_in, audio[n:]])
        if not self._started:
            self._started = True
            audio = _faded(audio, rising=True)
        if final:
            audio = _faded(audio, rising=False)
        hold = 0 if final else min(self._samples, len(audio))
        self._tail = audio[len(audio) - hold :] if hold else np.zeros(0, np.float32)
        return audio[: len(audio) - hold]

    def flush(self) -> np.ndarray:
        """The held-back tail, when no chunk follows."""
        tail, self._tail = self._tail, np.zeros(0, np.float32)
        return _faded(tail, rising=False)


def _faded(audio: np.ndarray, *, rising: bool) -> np.ndarray:
    n = min(Crossfader.EDGE, len(audio))
    ramp = np.sin(np.linspace(0.0, np.pi / 2, n, dtype=np.float32)) ** 2
    audio = audio.copy()
    if rising:
        audio[:n] *= ramp
    else:
        audio[len(audio) - n :] *= ramp[::-1]
    return audio
