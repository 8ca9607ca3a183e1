"""Transcribe a turn when the VAD first hears its speech pause, before it decides it stopped.

Silero stops hearing speech soon after the last word, but the VAD calls the end of speech only once
`vad_stop_secs` of its windows went without it (at the defaults, 60-80 ms after its pause:
benchmarks/vad_pause.py), and only then did Whisper start. Here the turn so far
is transcribed in a worker thread the moment the VAD enters its pause (`pausing`). When the VAD then
stops, the segment it hands over is that same audio plus silence: if the VAD never heard speech
again and everything after the snapshot is quiet, the early transcript is the answer (waited for
if it is still running); else the segment is transcribed as before. A pause inside a sentence
that starts an early run costs only that run, in time the user is speaking anyway.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from loguru import logger

WINDOW = 320  # 20 ms at 16 kHz: the unit loudness is measured in


def _window_rms(audio: np.ndarray) -> np.ndarray:
    """RMS of each 20 ms window of float audio (a last partial window on its own samples)."""
    return np.array(
        [np.sqrt(np.mean(audio[i : i + WINDOW] ** 2)) for i in range(0, len(audio), WINDOW)],
        np.float32,
    )


@dataclass
class _Snapshot:
    speech: np.ndarray  # the turn's audio when the pause began (no padding)
    quiet_below: float  # RMS under which a 20 ms window after it counts as quiet
    kwargs: dict[str, Any]
    result: Future


class EarlyTranscriber:
    """A session's view of the shared Whisper transcriber, with an early run per speech pause.

    `transcribe` is called the way Pipecat's Whisper service calls its model (in a worker
    thread, on float audio at 16 kHz); `observe` is fed the session's audio on the event loop.
    """

    # Anything after the snapshot this close to the turn's loudest 20 ms is speech, whatever
    # the VAD said: the early transcript would miss it.
    QUIET_DB = 30.0
    # Silero's first windows often dip below its threshold right after speech starts.
    MIN_SPEECH_SECS = 0.25

    _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper-early")

    def __init__(self, transcriber: Any) -> None:
        self._transcriber = transcriber
        self.supported_languages = getattr(transcriber, "supported_languages", None)
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._running: Future | None = None
        self._in_pause = False
        self._peak = 0.0
        self._samples = 0
        self.used = 0  # early transcripts that answered a turn (read by the tests)

    def reset(self) -> None:
        """A new turn starts: forget the last one's loudness and snapshot."""
        with self._lock:
            self._snapshot = None
        self._in_pause = False
        self._peak = 0.0
        self._samples = 0

    def observe(
        self, pcm: bytes, turn_audio: bytearray, *, pausing: bool, padding: int, **kwargs: Any
    ) -> None:
        """A chunk of the turn arrived.

        Args:
            pcm: The chunk, 16-bit mono at 16 kHz.
            turn_audio: All of the turn so far, this chunk included.
            pausing: Whether the VAD has stopped hearing speech (and not yet ended the turn).
            padding: Samples of silence the segment will be padded with.
            **kwargs: What the segment will be transcribed with.
        """
        chunk = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
        self._samples += len(chunk)
        if not pausing:
            self._peak = max(self._peak, float(np.sqrt(np.mean(chunk**2))) if len(chunk) else 0.0)
            if self._in_pause:  # speech again: what was snapped answers half the turn
                self._in_pause = False
                with self._lock:
                    self._snapshot = None
            return
        if self._in_pause or self._samples < self.MIN_SPEECH_SECS * 16000:
            return
        self._in_pause = True
        with self._lock:
            if self._running and not self._running.done():
                return  # one run at a time; the segment is transcribed as before
            speech = np.frombuffer(bytes(turn_audio), np.int16).astype(np.float32) / 32768.0
            audio = np.concatenate([speech, np.zeros(padding, np.float32)])
            self._running = self._pool.submit(self._transcriber.transcribe, audio, **kwargs)
            quiet_below = self._peak * 10 ** (-self.QUIET_DB / 20)
            self._snapshot = _Snapshot(speech, quiet_below, dict(kwargs), self._running)

    def transcribe(self, audio: np.ndarray, **kwargs):
        """The segment's transcript: the early one if the segment is its audio plus quiet."""
        with self._lock:
            snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None and self._extends_quietly(snapshot, audio, kwargs):
            try:
                segments, info = snapshot.result.result()
            except Exception as e:  # transcribed again below, which reports a lasting fault
                logger.warning(f"Early transcription failed ({e}); transcribing the segment")
            else:
                self.used += 1
                return segments, info
        return self._transcriber.transcribe(audio, **kwargs)

    @staticmethod
    def _extends_quietly(snapshot: _Snapshot, audio: np.ndarray, kwargs: dict[str, Any]) -> bool:
        n = len(snapshot.speech)
        if kwargs != snapshot.kwargs or len(audio) < n:
            return False
        if not np.array_equal(audio[:n], snapshot.speech):
            return False
        return bool(np.all(_window_rms(audio[n:]) < snapshot.quiet_below))
