"""Text aggregation that lets a reply start speaking at its first clause, not its first sentence.

Pipecat's TTS services wait for a whole sentence of LLM tokens before synthesising, so the first
audio waits for the LLM to finish the first sentence. Here the first clause of each reply goes to
the engine as soon as it is known to be one: at a comma, semicolon, colon or dash once the next
character shows the punctuation is not part of a number, or before a word that opens a new clause
("because", "and", "which", ...), with at least `min_words` words either way ("The sky is blue |
because it scatters blue light."). The rest of the reply is cut at sentence ends as Pipecat does,
keeping later prosody whole. Optionally, a reply's unfinished
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
# Words that open a new clause; words as ambiguous as "that", "so" or "or" are left out.
_OPENERS = (
    "and but because which who whom whose when while whereas although though since unless until "
    "where if"
)
CLAUSE_OPENERS = frozenset(_OPENERS.split())


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
            clause, opener = self._first_clause(char)
            if clause is not None:
                await super().reset()  # the buffer held the clause, and the next one's opener
                self._first = False
                yield Aggregation(text=clause, type=TextType.SENTENCE)
                async for _ in super().aggregate(opener):
                    pass  # a word with no sentence end in it: buffered, never emitted
            async for sentence in super().aggregate(char):
                self._first = False
                self._sentences += 1
                yield sentence

    def _first_clause(self, char: str) -> tuple[str | None, str]:
        """The buffered first clause, if `char` (not yet buffered) confirms its end, and what of
        the buffer opens the next one."""
        buffered = self._text.strip(" ")
        if self._min_words is None or not (self._first and char.isspace() and buffered):
            return None, ""
        if buffered[-1] in CLAUSE_ENDS:
            clause, opener = buffered, ""
        else:
            clause, _, opener = buffered.rpartition(" ")
            if opener.lower() not in CLAUSE_OPENERS or not clause[-1:].isalnum():
                return None, ""
        return (clause, opener) if len(clause.split()) >= self._min_words else (None, "")

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
