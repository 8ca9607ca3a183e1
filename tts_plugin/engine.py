"""The engine contract every TTS backend shares: a request in, PCM chunks out, cancellable.

An engine is blocking code (model math). `stream()` returns a generator that does one chunk of work
per `next()`, so a caller can drive it from a worker thread one chunk at a time and stop between
chunks; engines also check `cancel` inside long chunks (per decode step where they can).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tts_plugin.emotion import NEUTRAL, Emotion, EmotionMode
from tts_plugin.speakable_text import speakable

MAX_TEXT_CHARS = 2000
MIN_SPEED = 0.5
MAX_SPEED = 2.0


class EngineError(RuntimeError):
    """A request the engine cannot serve, or a model that cannot load; the message says why."""


class NothingToSay(EngineError):
    """The text has no letter or digit once cleaned (`speakable_text.py`): skip it, or refuse it."""


@dataclass(frozen=True)
class SynthesisRequest:
    """What to say and how. Validated and cleaned on construction (`speakable_text.py`), so bad
    input never reaches a model."""

    text: str
    emotion: Emotion = NEUTRAL
    voice: str | None = None
    language: str | None = None
    speed: float = 1.0
    # Audio the listener has yet to hear when this request starts (a reply's earlier sentences);
    # an engine that shares its model serves the listener nearest a gap first. None: unknown.
    ahead_seconds: float | None = None
    # Called by an engine that knows when its words start, before it yields their audio, with
    # (word, seconds from the request's first sample) pairs (`word_timing.py`). None: not asked.
    on_words: Callable[[list[tuple[str, float]]], None] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise NothingToSay("text to synthesise is empty")
        if len(self.text) > MAX_TEXT_CHARS:
            raise EngineError(
                f"text is {len(self.text)} characters; at most {MAX_TEXT_CHARS} per request"
            )
        text = speakable(self.text)
        if text is None:
            raise NothingToSay("the text has nothing to say (no letters or digits once cleaned)")
        object.__setattr__(self, "text", text)  # every engine gets the cleaned text
        check_speed(self.speed)
        ahead = self.ahead_seconds
        if ahead is not None and not (isinstance(ahead, (int, float)) and 0 <= ahead < math.inf):
            raise EngineError(f"ahead_seconds must be a finite number >= 0, got {ahead!r}")


def check_speed(speed: float) -> None:
    """Raise `EngineError` unless `speed` is a finite number in the supported range."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed):
        raise EngineError(f"speed must be a number in [{MIN_SPEED}, {MAX_SPEED}], got {speed!r}")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise EngineError(f"speed must be in [{MIN_SPEED}, {MAX_SPEED}], got {speed!r}")


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, so callers reject unsupported requests before synthesis."""

    emotion_modes: frozenset[EmotionMode]
    languages: tuple[str, ...]
    voices: tuple[str, ...] = ()
    voice_cloning: bool = False
    # Worst expected wait for one chunk on the target hardware; sizes the service's stop timeout.
    max_chunk_seconds: float = 3.0


@runtime_checkable
class TTSEngine(Protocol):
    """A speech backend: load once, then stream requests as int16 mono chunks at `sample_rate`."""

    name: str
    sample_rate: int
    capabilities: EngineCapabilities

    def load(self) -> None:
        """Load models (blocking, idempotent). Never downloads: a missing file is an `EngineError`."""
        ...

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[np.ndarray]:
        """Yield int16 mono chunks; stop early once `cancel` is set."""
        ...

    # Optional, for engines that clone voices from clips: `voice_clip(name) -> Path | None`, the
    # clip a voice name stands for right now (used to refuse unknown voices before synthesis and to
    # resolve emotion reference clips named by network clients).


def check_request(engine: TTSEngine, request: SynthesisRequest) -> None:
    """Raise `EngineError` if `engine` cannot serve `request` (emotion mode, voice, language)."""
    check_support(engine, request.emotion, request.voice, request.language)


def check_support(
    engine: TTSEngine, emotion: Emotion, voice: str | None, language: str | None
) -> None:
    """Raise `EngineError` naming the valid choices if `engine` lacks a feature asked for."""
    caps = engine.capabilities
    if emotion.mode not in caps.emotion_modes:
        raise EngineError(
            f"the {engine.name} engine does not support {emotion.mode} emotions; "
            f"supported: {', '.join(sorted(caps.emotion_modes))}"
        )
    if voice and caps.voices and voice not in caps.voices:
        # A cloning engine's voices change at run time (uploaded clips); it may say which exist.
        voice_clip = getattr(engine, "voice_clip", None)
        if not caps.voice_cloning or (voice_clip is not None and voice_clip(voice) is None):
            raise EngineError(
                f"unknown voice {voice!r} for the {engine.name} engine; "
                f"voices: {', '.join(caps.voices)}"
                + (" or an uploaded clip" if caps.voice_cloning else "")
            )
    if language and language not in caps.languages:
        raise EngineError(
            f"the {engine.name} engine does not speak {language!r}; "
            f"languages: {', '.join(caps.languages)}"
        )
