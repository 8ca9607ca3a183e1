"""What the agent shares across sessions: the config, the TTS engine, and the local LLM server.

Models load once per process at start-up (not per call), so a session only builds its pipeline.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields

from loguru import logger

from agent.config import AgentConfig
from agent.interrupted_reply import INSTRUCTION
from agent.llm_server import LlamaServer
from agent.stt import preload_stt
from tts_plugin.emotion_tags import tag_instructions
from tts_plugin.engine_factory import EngineSettings, create_engine


def system_prompt(config: AgentConfig) -> str:
    """The profile's prompt, what an interrupted reply's mark means, and the emotion-tag syntax
    when the LLM may choose emotions."""
    prompt = f"{config.llm.system_prompt} {INSTRUCTION}"
    if config.tts.inline_emotion:
        return f"{prompt} {tag_instructions()}"
    return prompt


def engine_settings(config: AgentConfig) -> EngineSettings:
    """The TTS engine a profile asks for: the `tts` fields named as `EngineSettings` names them, and
    every session's decode steps in one batch."""
    shared = {f.name for f in fields(EngineSettings)} & set(type(config.tts).model_fields)
    return EngineSettings(
        **{name: getattr(config.tts, name) for name in shared},
        max_batch=config.server.max_sessions,
    )


class AgentRuntime:
    """Process-wide state of a running agent."""

    def __init__(self, config: AgentConfig):
        self.config = config
        self.engine = create_engine(engine_settings(config))
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
