"""The bundled llama.cpp server the agent supervises, as several sessions share it."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI

from agent.config import LLMConfig
from agent.llm_server import LlamaServer

pytestmark = pytest.mark.slow


async def reply(client: AsyncOpenAI, question: str) -> tuple[str, str | None]:
    """A streamed answer and the finish reason its last chunk gave (None: cut off)."""
    stream = await client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": question}],
        max_tokens=30,
        temperature=0.0,
        stream=True,
    )
    text, finish = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    return text, finish


async def test_simultaneous_sessions_each_get_a_whole_reply():
    # llama-cpp-python's server ends a streaming reply when another request waits, by default:
    # with three sessions talking, two replies came back cut off after a few tokens.
    server = LlamaServer(LLMConfig())
    await server.start()
    try:
        client = AsyncOpenAI(base_url=server.base_url, api_key="none")
        questions = ["Tell me about the ocean.", "Tell me about dogs.", "Tell me about tea."]
        replies = await asyncio.gather(*(reply(client, q) for q in questions))
        for text, finish in replies:
            assert finish in ("stop", "length"), replies
            assert len(text.split()) >= 5, replies
    finally:
        await server.stop()
