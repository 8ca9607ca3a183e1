"""What the agent shares across sessions: the config, the TTS engine, and the local LLM server.

Models load once per process at start-up (not per call), so a session only builds its pipeline.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from agent.config import AgentConfig, ConfigError
from agent.llm_server import LlamaServer
from agent.stt import preload_stt
from tts_plugin.emotion_tags import tag_instructions
from tts_plugin.engine import TTSEngine


def system_prompt(config: AgentConfig) -> str:
    """The profile's prompt, plus the emotion-tag syntax when the LLM may choose emotions."""
    if config.tts.inline_emotion:
        return f"{config.llm.system_prompt} {tag_instructions()}"
    return config.llm.system_prompt


def create_engine(config: AgentConfig) -> TTSEngine:
    """The TTS engine a profile asks for (not loaded yet)."""
    engine = config.tts.engine
    if engine == "embedded":
        from tts_plugin.engines.embedded import EmbeddedEngine

        return EmbeddedEngine()
    if engine == "remote":
        from tts_plugin.engines.remote import RemoteEngine

        if not config.tts.remote_url:
            raise ConfigError("tts.engine=remote needs tts.remote_url (e.g. http://gpu-box:8000)")
        return RemoteEngine(config.tts.remote_url)
    from tts_plugin.engines.indextts2 import ChunkSchedule, IndexTTS2Engine, Sampling

    tts = config.tts
    if tts.model_dir is None:
        raise ConfigError(
            "tts.engine=indextts2 needs tts.model_dir (your IndexTTS-2 or 2.5 checkpoints)"
        )
    return IndexTTS2Engine(
        tts.model_dir,
        voice=tts.reference_voice,
        voices_dir=tts.voices_dir,
        device=tts.device,
        bf16=tts.bf16,
        fp16=tts.fp16,
        cuda_graphs=tts.cuda_graphs,
        max_batch=config.server.max_sessions,  # every session's steps in one batch
        diffusion_steps=tts.diffusion_steps,
        sampling=Sampling(max_codes=tts.max_codes),
        schedule=ChunkSchedule(first_seconds=tts.first_chunk_seconds),
        text_normalization=tts.text_normalization,
    )


class AgentRuntime:
    """Process-wide state of a running agent."""

    def __init__(self, config: AgentConfig):
        self.config = config
        self.engine = create_engine(config)
        self.llm_server: LlamaServer | None = None
        self.system_prompt = system_prompt(config)

    @property
    def llm_base_url(self) -> str | None:
        """Where sessions send chat completions."""
        if self.llm_server:
            return self.llm_server.base_url
        return self.config.llm.base_url

    async def start(self) -> None:
        """Load the TTS and STT models and start the local LLM server, concurrently."""
        loads = [asyncio.to_thread(self.engine.load), asyncio.to_thread(preload_stt, self.config)]
        if self.config.llm.provider == "llama_cpp":
            self.llm_server = LlamaServer(self.config.llm)
            loads.append(self._start_llm(self.llm_server))
        await asyncio.gather(*loads)
        logger.info("Agent models ready")

    async def _start_llm(self, server: LlamaServer) -> None:
        await server.start()
        await server.prefill(self.system_prompt, [{"role": "user", "content": "Hello"}])

    async def prefill(self, messages: list[dict]) -> None:
        """Have the local LLM evaluate a session's conversation before its next turn needs it."""
        if self.llm_server:
            await self.llm_server.prefill(self.system_prompt, messages)

    async def stop(self) -> None:
        """Stop the LLM server child."""
        if self.llm_server:
            await self.llm_server.stop()
