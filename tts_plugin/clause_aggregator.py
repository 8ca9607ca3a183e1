"""Text aggregation that lets a reply start speaking at its first clause, not its first sentence.

Pipecat's TTS services wait for a whole sentence of LLM tokens before synthesising, so the first
audio waits for the LLM to finish the first sentence. Here the first clause of each reply (ending
at a comma, semicolon, colon or dash, with at least `min_words` words) goes to the engine as soon
as the next character shows the punctuation is not part of a number; the rest of the reply is cut
at sentence ends as Pipecat does, keeping later prosody whole. Optionally, a reply's unfinished
tail (no sentence-ending punctuation, after at least one whole sentence: an LLM stopped by its
token limit mid-sentence) is not spoken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from loguru import logger
from pipecat.utils.string import SENTENCE_ENDING_PUNCTUATION
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

CLAUSE_ENDS = ",;:—–"


class FirstClauseTextAggregator(SimpleTextAggregator):
    """Pipecat's sentence aggregator, plus an early cut after a reply's first clause."""

    def __init__(
        self, *, min_words: int | None = 4, drop_unfinished_tail: bool = False, **kwargs
    ) -> None:
        """`min_words` None: no early cut (sentences only)."""
        super().__init__(**kwargs)
        self._min_words = min_words
        self._drop_unfinished_tail = drop_unfinished_tail
        self._first = True
        self._sentences = 0  # whole sentences of this reply so far

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        if self._aggregation_type == TextType.TOKEN:
            async for aggregation in super().aggregate(text):
                yield aggregation
            return
        for char in text:
            clause = self._first_clause(char)
            if clause is not None:
                await super().reset()  # the buffer held exactly the clause
                self._first = False
                yield Aggregation(text=clause, type=TextType.SENTENCE)
            async for sentence in super().aggregate(char):
                self._first = False
                self._sentences += 1
                yield sentence

    def _first_clause(self, char: str) -> str | None:
        """The buffered clause, if `char` (not yet buffered) confirms the end of a first clause."""
        buffered = self._text.strip(" ")
        if self._min_words is None or not (
            self._first and char.isspace() and buffered and buffered[-1] in CLAUSE_ENDS
        ):
            return None
        return buffered if len(buffered.split()) >= self._min_words else None

    async def flush(self) -> Aggregation | None:
        sentences, tail = self._sentences, await super().flush()
        text = tail.text.rstrip(" \"')]") if tail else ""
        if (
            self._drop_unfinished_tail
            and sentences
            and text
            and text[-1] not in SENTENCE_ENDING_PUNCTUATION
        ):
            logger.debug(f"Not speaking the unfinished end of a reply: {tail.text!r}")
            return None
        return tail

    async def handle_interruption(self) -> None:
        self._first, self._sentences = True, 0
        await super().handle_interruption()

    async def reset(self) -> None:
        self._first, self._sentences = True, 0
        await super().reset()
