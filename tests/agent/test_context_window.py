"""A session's conversation is kept within the LLM's context by dropping its oldest whole turns."""

from __future__ import annotations

import asyncio

from pipecat.processors.aggregators.llm_context import LLMContext

from agent.config import load_config
from agent.context_window import ContextWindow, context_budget
from agent.runtime import system_prompt


def conversation(turns: int) -> list[dict]:
    messages = []
    for i in range(turns):
        messages.append({"role": "user", "content": f"Question number {i}, asked at some length?"})
        messages.append({"role": "assistant", "content": f"Answer {i}. " + "Words to say. " * 8})
    return messages


def test_a_short_conversation_is_left_alone():
    context = LLMContext(messages=conversation(3))
    assert ContextWindow(context, budget_tokens=1000).trim() == 0
    assert len(context.messages) == 6


def test_a_long_one_loses_its_oldest_turns_down_to_half_the_budget():
    context = LLMContext(messages=conversation(40))
    window = ContextWindow(context, budget_tokens=600)
    dropped = window.trim()
    kept = context.messages
    assert dropped > 0 and len(kept) == 80 - dropped
    assert ContextWindow._estimate(kept) <= 300
    # Whole turns: it starts at a user message and ends with the latest answer.
    assert kept[0]["role"] == "user" and kept[-1] == conversation(40)[-1]
    # Then it stays put until it outgrows the budget again (a stable prefix for llama.cpp's cache).
    assert window.trim() == 0


def test_the_latest_turn_is_kept_whatever_the_budget():
    context = LLMContext(messages=conversation(5))
    ContextWindow(context, budget_tokens=0).trim()
    assert context.messages == conversation(5)[-2:]


async def test_after_each_bot_turn_the_conversation_is_handed_over_for_prefill():
    seen = []

    async def prefill(messages):
        seen.append(messages)

    context = LLMContext(messages=conversation(40))
    window = ContextWindow(context, budget_tokens=600, prefill=prefill)
    await window.after_bot_turn()
    await asyncio.sleep(0)
    assert seen == [context.messages] and len(seen[0]) < 80  # trimmed first
    context.add_messages(conversation(1))
    await window.after_bot_turn()
    await asyncio.sleep(0)
    assert seen[-1] == context.messages and len(seen) == 2


def test_the_default_budget_leaves_room_for_the_prompt_and_the_reply():
    config = load_config()
    budget = context_budget(config.llm.n_ctx, config.llm.max_tokens, system_prompt(config))
    assert 500 < budget < config.llm.n_ctx - config.llm.max_tokens
