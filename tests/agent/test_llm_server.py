"""The bundled llama.cpp server the agent supervises, as several sessions share it."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI, BadRequestError
from pipecat.processors.aggregators.llm_context import LLMContext

from agent.config import LLMConfig, load_config
from agent.context_window import ContextWindow, context_budget
from agent.llm_server import LlamaServer, LLMServerError
from agent.runtime import system_prompt

pytestmark = pytest.mark.slow


async def reply(client: AsyncOpenAI, question: str) -> tuple[str, str | None]:
    """A streamed answer and the finish reason its last chunk gave (None: cut off)."""
    stream = await client.chat.completions.create(
        model=LLMConfig().model,
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


async def test_a_long_conversation_trimmed_to_its_window_still_gets_an_answer():
    # ~25 turns of the bundled model's chatter filled its 2048-token context: llama.cpp then
    # refused every request and the bot went silent for the rest of the call.
    config = load_config()
    prompt = system_prompt(config)
    chatter = "I love talking about the weather, the sea and the mountains with my friends. " * 3
    messages = []
    for i in range(30):
        messages += [
            {"role": "user", "content": f"Tell me something nice, number {i}."},
            {"role": "assistant", "content": chatter},
        ]
    messages.append({"role": "user", "content": "What is the capital of France?"})
    server = LlamaServer(config.llm)
    await server.start()
    try:
        client = AsyncOpenAI(base_url=server.base_url, api_key="none")

        async def answer(conversation: list[dict]) -> str:
            response = await client.chat.completions.create(
                model=config.llm.model,
                messages=[{"role": "system", "content": prompt}, *conversation],
                max_tokens=config.llm.max_tokens,
                temperature=0.0,
            )
            return response.choices[0].message.content or ""

        with pytest.raises(BadRequestError, match="context length"):
            await answer(messages)
        context = LLMContext(messages=messages)
        budget = context_budget(config.llm.n_ctx, config.llm.max_tokens, prompt)
        assert ContextWindow(context, budget_tokens=budget).trim() > 0
        assert context.messages[-1]["content"] == "What is the capital of France?"
        assert len((await answer(context.messages)).split()) >= 3
    finally:
        await server.stop()


async def test_a_server_that_fails_to_start_says_why(tmp_path):
    junk = tmp_path / "not-a-model.gguf"
    junk.write_bytes(b"this is not a GGUF file" * 100)
    server = LlamaServer(LLMConfig(gguf=junk))
    with pytest.raises(LLMServerError, match="exited with code .*its last output: .*gguf"):
        await server.start(timeout=60)
    await server.stop()
