"""How an LLM reply is cut into the pieces the engine speaks: early first clause, tags out, never silent.

Pipecat's TTS services wait for a whole sentence of LLM tokens before synthesising, so the first
audio waits for the LLM to finish the first sentence. Here the first clause of each reply goes to
the engine as soon as it is known to be one: at a comma, semicolon, colon or dash once the next
character shows the punctuation is not part of a number, or before a word that opens a new clause
("because", "and", "which", ...), with at least `min_words` words either way ("The sky is blue |
because it scatters blue light."). The rest of the reply is cut at sentence ends as Pipecat does,
keeping later prosody whole.

Emotion tags (`emotion_tags.py`) are taken out of the stream as they arrive, however the tokens split
them, so no piece, transcript or context ever holds one and no cut falls inside one (`[happy: 0.9]`
holds a colon, `[excited!]` a sentence end). A known tag changes the emotion from where it stands:
text before it that has something to say is cut off and spoken first.

Optionally, a reply's unfinished tail (no sentence-ending punctuation, after at least one whole
sentence: an LLM stopped by its token limit mid-sentence) is not spoken. A reply that ends with
nothing to say (only tags, punctuation or emoji) gets the `fallback` text instead, so the user never
meets silence; a reply with no text at all is not an answer (a failed or withdrawn completion,
which the agent reports and the service drops) and gets none. A reply the engine cannot speak (in
a language it lacks) is answered by `answer_instead`'s text, once, and the rest is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from loguru import logger
from pipecat.utils.string import SENTENCE_ENDING_PUNCTUATION
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

from tts_plugin.emotion import Emotion
from tts_plugin.emotion_tags import CLOSERS, MAX_TAG_CHARS, OPENERS, read_tag
from tts_plugin.speakable_text import speakable

CLAUSE_ENDS = ",;:—–"
# Words that open a new clause; words as ambiguous as "that", "so" or "or" are left out.
_OPENERS = (
    "and but because which who whom whose when while whereas although though since unless until "
    "where if"
)
CLAUSE_OPENERS = frozenset(_OPENERS.split())


class ReplyTextAggregator(SimpleTextAggregator):
    """Pipecat's sentence aggregator, plus an early first clause, tags removed, and a fallback.

    `on_emotion(emotion)` is called where a known tag stands, after every piece before it was
    yielded (the service speaks each piece before this generator resumes). `fallback(said)` gives
    the text to speak when a reply ends with nothing to say (`said`: its text without tags), or
    None.
    """

    def __init__(
        self,
        *,
        min_words: int | None = 4,
        drop_unfinished_tail: bool = False,
        on_emotion: Callable[[Emotion], None] | None = None,
        fallback: Callable[[str], str | None] | None = None,
        **kwargs,
    ) -> None:
        """`min_words` None: no early cut (sentences only)."""
        super().__init__(**kwargs)
        if self._aggregation_type != TextType.SENTENCE:
            raise ValueError(
                "IndexTTS2TTSService speaks sentences (TextAggregationMode.SENTENCE): with TOKEN "
                "aggregation emotion tags split across tokens would be spoken"
            )
        self._min_words = min_words
        self._drop_unfinished_tail = drop_unfinished_tail
        self._on_emotion = on_emotion or (lambda emotion: None)
        self._fallback = fallback or (lambda said: None)
        self._new_reply()

    def _new_reply(self) -> None:
        self._first = True
        self._sentences = 0  # whole sentences of this reply so far
        self._tag: str | None = None  # an opened bracket group that may be a tag
        self._said = ""  # the reply's text without tags, as it came
        self._got_text = False  # whether any text (tags included) came
        self._spoke = False  # whether a piece with something to say was yielded
        self._instead: str | None = None  # what to say instead of this reply
        self._answered = False  # whether that was said

    def answer_instead(self, text: str | None) -> None:
        """Say `text` instead of the reply now starting (None: the reply itself)."""
        self._instead = text

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        self._got_text = self._got_text or bool(text.strip())
        async for piece in self._scan(text):
            if self._instead is not None:
                if self._answered:
                    continue
                self._answered = True
                piece = Aggregation(text=self._instead, type=TextType.SENTENCE)
            self._spoke = self._spoke or speakable(piece.text) is not None
            yield piece

    async def _scan(self, text: str) -> AsyncIterator[Aggregation]:
        """Split off tags; every other character goes on to the clause and sentence cuts."""
        for char in text:
            if self._tag is None:
                if char in OPENERS:
                    self._tag = char
                else:
                    async for piece in self._text_char(char):
                        yield piece
                continue
            self._tag += char
            if char in CLOSERS and (tag := read_tag(self._tag)) is not None:
                self._tag = None
                if tag.emotion is not None:
                    if speakable(self._text) is not None:
                        yield await self._cut()
                    self._on_emotion(tag.emotion)
            elif (
                char in CLOSERS
                or char in OPENERS
                or char == "\n"
                or (len(self._tag) > MAX_TAG_CHARS + 2)
            ):
                # Not a tag: its first character is text; the rest is scanned again.
                held, self._tag = self._tag, None
                async for piece in self._text_char(held[0]):
                    yield piece
                async for piece in self._scan(held[1:]):
                    yield piece

    async def _text_char(self, char: str) -> AsyncIterator[Aggregation]:
        self._said += char
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

    async def _cut(self) -> Aggregation:
        """The buffered text as a piece of its own (an emotion changes after it)."""
        text = self._text.strip(" ")
        await super().reset()
        self._first = False
        return Aggregation(text=text, type=TextType.SENTENCE)

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
        if self._tag is not None:
            logger.debug(f"Not speaking an unclosed tag at the end of a reply: {self._tag!r}")
        # The base's flush resets (this reply's state with it): read it first.
        sentences, spoke, said, got_text = self._sentences, self._spoke, self._said, self._got_text
        if self._instead is not None:
            instead = None if self._answered or not got_text else self._instead
            await super().flush()
            self._new_reply()
            return Aggregation(text=instead, type=TextType.SENTENCE) if instead else None
        tail = await super().flush()
        text = tail.text.rstrip(" \"')]") if tail else ""
        if (
            self._drop_unfinished_tail
            and sentences
            and text
            and text[-1] not in SENTENCE_ENDING_PUNCTUATION
        ):
            logger.debug(f"Not speaking the unfinished end of a reply: {tail.text!r}")
            tail = None
        spoke = spoke or (tail is not None and speakable(tail.text) is not None)
        self._new_reply()
        if got_text and not spoke and (instead := self._fallback(said)):
            return Aggregation(text=instead, type=TextType.SENTENCE)
        return tail

    async def handle_interruption(self) -> None:
        self._new_reply()
        await super().handle_interruption()

    async def reset(self) -> None:
        self._new_reply()
        await super().reset()
