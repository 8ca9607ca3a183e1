"""Keep a session's conversation within the LLM's context, dropping its oldest turns.

A conversation only grows: on the bundled model (2048 tokens) the prompt plus `max_tokens` passed
the context 28 turns in, llama.cpp refused or answered nothing, and the bot fell silent for the
rest of the call. After each bot turn, once the estimated prompt passes `budget_tokens`, the oldest
whole turns go until it is under half of that. Trimming in big steps keeps the prompt's prefix
stable in between: llama.cpp reuses an evaluated prefix, so a turn costs only its new tokens.
After each bot turn `prefill` lets the LLM evaluate the conversation so far (the reply as it was
spoken, and after a trim the whole new prefix) while the user listens and talks, so the next
answer's first token waits only for the user's words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger
from pipecat.processors.aggregators.llm_context import LLMContext, LLMContextMessage
from pipecat.utils.context.llm_context_summarization import LLMContextSummarizationUtil

# The estimate is characters / 4 plus per-message overhead: SmolLM2 measured ~20% more tokens.
ESTIMATE_MARGIN = 0.6


def context_budget(n_ctx: int, max_tokens: int, system_prompt: str) -> int:
    """Estimated tokens the conversation may hold beside the system prompt and the reply."""
    room = n_ctx - max_tokens - LLMContextSummarizationUtil.estimate_tokens(system_prompt)
    return max(0, int(room * ESTIMATE_MARGIN))


class ContextWindow:
    """Drops a context's oldest turns once it outgrows its budget."""

    def __init__(
        self,
        context: LLMContext,
        *,
        budget_tokens: int,
        prefill: Callable[[list[LLMContextMessage]], Awaitable[None]] | None = None,
    ) -> None:
        self._context = context
        self._budget = budget_tokens
        self._prefill_with = prefill
        self._prefill: asyncio.Task | None = None

    def trim(self) -> int:
        """Drop the oldest turns if over budget; the number of messages dropped."""
        messages = self._context.messages
        if self._estimate(messages) <= self._budget:
            return 0
        # Whole turns only (the kept part starts at a user message), and always the latest one.
        starts = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        if not starts:
            return 0
        start = next(
            (i for i in starts if self._estimate(messages[i:]) <= self._budget // 2), starts[-1]
        )
        if start == 0:
            return 0
        self._context.set_messages(messages[start:])
        logger.debug(f"Context over {self._budget} tokens: dropped its {start} oldest messages")
        return start

    async def after_bot_turn(self) -> None:
        """Trim, then (in the background) let the LLM evaluate the conversation so far."""
        self.trim()
        if self._prefill_with and self._context.messages:
            if self._prefill and not self._prefill.done():
                self._prefill.cancel()
            self._prefill = asyncio.create_task(self._prefill_with(list(self._context.messages)))

    def close(self) -> None:
        if self._prefill and not self._prefill.done():
            self._prefill.cancel()

    @staticmethod
    def _estimate(messages: list[LLMContextMessage]) -> int:
        return LLMContextSummarizationUtil.estimate_context_tokens(LLMContext(messages=messages))
