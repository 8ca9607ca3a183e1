"""The speech API's response formats, each encoded as the audio streams (PyAV's codecs and muxers).

Every format leaves bytes after each chunk the engine yields, so a player starts before synthesis
ends: mp3 frames, Ogg pages of 20 ms (the muxer's default page is a whole second), ADTS AAC frames,
FLAC frames; `wav` is the PCM behind a streaming header, `pcm` the raw samples (s16le mono).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

import av
import numpy as np

ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


@dataclass(frozen=True)
class AudioFormat:
    media_type: str
    container: str | None = None  # None: no PyAV muxer (pcm, wav)
    codec: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    rates: tuple[int, ...] | None = None  # the codec's rates, if it is picky


FORMATS: dict[str, AudioFormat] = {
    "mp3": AudioFormat("audio/mpeg", "mp3", "libmp3lame"),
    "opus": AudioFormat(
        "audio/ogg",
        "ogg",
        "libopus",
        {"page_duration": "20000"},
        rates=(8000, 12000, 16000, 24000, 48000),
    ),
    "aac": AudioFormat("audio/aac", "adts", "aac"),
    "flac": AudioFormat("audio/flac", "flac", "flac"),
    "wav": AudioFormat("audio/wav"),
    "pcm": AudioFormat("audio/pcm"),
}


def encoded_rate(response_format: str, rate: int) -> int:
    """The rate the format is encoded at: `rate`, or 48 kHz where the codec cannot take it."""
    rates = FORMATS[response_format].rates
    return rate if rates is None or rate in rates else 48000


def wav_header(sample_rate: int) -> bytes:
    """A WAV header for a stream of unknown length (sizes set to the maximum, as streamers do)."""
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


class _Collected:
    """The muxer's output: PyAV writes here, the stream takes what has come since."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class StreamEncoder:
    """int16 mono chunks in, the format's bytes out as soon as they exist."""

    def __init__(self, response_format: str, sample_rate: int) -> None:
        self.format = FORMATS[response_format]
        self.sample_rate = sample_rate
        self._header = wav_header(sample_rate) if response_format == "wav" else b""
        self._sink: _Collected | None = None
        self._closed = False
        if self.format.container:
            self._sink = _Collected()
            self._container = av.open(
                self._sink, mode="w", format=self.format.container, options=self.format.options
            )
            # PyAV converts the s16 frames to the codec's sample format and frame size itself.
            self._stream = self._container.add_stream(
                self.format.codec, rate=sample_rate, layout="mono"
            )

    def encode(self, pcm: np.ndarray) -> bytes:
        head, self._header = self._header, b""
        if self._sink is None:
            return head + pcm.astype(np.int16).tobytes()
        if not len(pcm):
            return head
        frame = av.AudioFrame.from_ndarray(
            pcm.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return head + self._sink.take()

    def finish(self) -> bytes:
        """Flush the codec and close the container (its trailer, if any)."""
        if self._sink is None:
            return self.encode(np.zeros(0, np.int16))
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self.close()
        return self._sink.take()

    def close(self) -> None:
        """Release the codec and muxer (also when the client went away mid-stream)."""
        if self._sink is not None and not self._closed:
            self._closed = True
            self._container.close()
