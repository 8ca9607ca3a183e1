"""Which engine to build and how: one description that the CLI's flags, the agent's profiles and the
server's Ray replicas all fill, and the one place engines are built from it.

IndexTTS2's tunable defaults live here once: the CLI's flags, the agent's profile fields and the
engine's own parameters all read them. Nothing here imports torch (the engines load lazily).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tts_plugin.engine import EngineError, TTSEngine

# Flow-matching steps per vocoded chunk: fewer is faster and rougher.
DIFFUSION_STEPS = 10
# Semantic codes per text segment at most (upstream's max_mel_tokens; 50 per second of speech on 2).
MAX_CODES = 1500
# Audio decoded before the first chunk is vocoded: less is sooner, more gives the DiT more context.
FIRST_CHUNK_SECONDS = 0.48
# Voices whose conditioning stays in (GPU) memory; the least recently used goes first.
VOICE_CACHE = 16

EngineName = Literal["embedded", "indextts2", "remote"]


@dataclass(frozen=True)
class EngineSettings:
    """What `create_engine` builds; the indextts2 fields matter only to that engine."""

    engine: EngineName = "embedded"
    model_dir: Path | None = None
    reference_voice: Path | None = None
    voices_dir: Path | None = None
    device: str | None = None
    bf16: bool = False
    fp16: bool = False
    cuda_graphs: bool = True
    # The requests one decode step serves: the server's concurrent syntheses, the agent's sessions.
    max_batch: int = 8
    diffusion_steps: int = DIFFUSION_STEPS
    max_codes: int = MAX_CODES
    first_chunk_seconds: float = FIRST_CHUNK_SECONDS
    text_normalization: bool = True
    voice_cache: int = VOICE_CACHE
    remote_url: str | None = None


def create_engine(settings: EngineSettings) -> TTSEngine:
    """The engine `settings` ask for, not loaded yet; `EngineError` names what is missing."""
    if settings.engine == "embedded":
        from tts_plugin.engines.embedded import EmbeddedEngine

        return EmbeddedEngine()
    if settings.engine == "remote":
        from tts_plugin.engines.remote import RemoteEngine

        if not settings.remote_url:
            raise EngineError(
                "the remote engine needs the TTS server's URL (tts.remote_url, e.g. "
                "http://gpu-box:8000)"
            )
        return RemoteEngine(settings.remote_url)
    if settings.model_dir is None:
        raise EngineError(
            "the indextts2 engine needs a model dir (--model-dir, or tts.model_dir in a profile): "
            "your IndexTTS-2 or 2.5 checkpoints"
        )
    from tts_plugin.engines.indextts2 import ChunkSchedule, IndexTTS2Engine, Sampling

    return IndexTTS2Engine(
        settings.model_dir,
        voice=settings.reference_voice,
        voices_dir=settings.voices_dir,
        device=settings.device,
        bf16=settings.bf16,
        fp16=settings.fp16,
        cuda_graphs=settings.cuda_graphs,
        max_batch=settings.max_batch,
        diffusion_steps=settings.diffusion_steps,
        sampling=Sampling(max_codes=settings.max_codes),
        schedule=ChunkSchedule(first_seconds=settings.first_chunk_seconds),
        text_normalization=settings.text_normalization,
        voice_cache=settings.voice_cache,
    )
