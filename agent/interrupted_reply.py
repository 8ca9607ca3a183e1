"""What the bot remembers of a reply the user cut off: the words they heard, and that it was cut.

The TTS times every word (`tts_plugin/word_timing.py`), so Pipecat's assistant aggregator keeps only
the words played before the interruption. The LLM still needs to know the reply did not end there:
its message ends with `MARK`, a dash, as a cut-off sentence is written, which the system prompt
explains (`INSTRUCTION`); a reply cut before its first word becomes the mark alone, so the
conversation never holds two user messages in a row. (A bracketed mark such as "[interrupted]" made
the bundled 0.5B LLM answer with bracketed words alone.)
"""

from __future__ import annotations

from loguru import logger
from pipecat.processors.aggregators.llm_context import LLMContext

MARK = "—"
INSTRUCTION = (
    f"If one of your earlier replies ends with a dash ({MARK}), the user talked over you there "
    "and heard only the words before it."
)


def remember_cut(context: LLMContext, heard: str) -> None:
    """Mark the reply the user cut off (`heard`: what the aggregator kept of it)."""
    messages = context.get_messages()
    if heard and messages and messages[-1].get("role") == "assistant":
        messages[-1]["content"] = f"{messages[-1]['content']} {MARK}"
    else:
        context.add_message({"role": "assistant", "content": MARK})
    logger.info(f"Reply cut off; the context keeps what was heard: …{heard[-80:]!r} {MARK}")
