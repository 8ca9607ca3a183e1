"""A reply's first clause goes to the engine before its sentence ends, the rest by sentences; tags
never reach a piece, and a reply with nothing to say gets the fallback."""

from __future__ import annotations

import pytest
from pipecat.services.tts_service import TextAggregationMode

from tts_plugin.emotion import Emotion
from tts_plugin.reply_aggregator import ReplyTextAggregator


async def feed(aggregator: ReplyTextAggregator, tokens: list[str]) -> list[str]:
    out = []
    for token in tokens:
        out += [a.text async for a in aggregator.aggregate(token)]
    last = await aggregator.flush()
    return out + ([last.text] if last and last.text else [])


def tokens(text: str) -> list[str]:
    """LLM-like tokens: words with their leading space."""
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def aggregator() -> ReplyTextAggregator:
    return ReplyTextAggregator(min_words=4, aggregation_type=TextAggregationMode.SENTENCE)


async def test_the_first_clause_is_cut_and_later_ones_are_not():
    reply = "Well, I think the weather is lovely today, and we should go out. Shall we, then?"
    assert await feed(aggregator(), tokens(reply)) == [
        "Well, I think the weather is lovely today,",
        "and we should go out.",
        "Shall we, then?",
    ]


async def test_numbers_short_openings_and_no_clause_wait_for_the_sentence():
    assert await feed(aggregator(), tokens("It costs 1,000 dollars today. Yes.")) == [
        "It costs 1,000 dollars today.",
        "Yes.",
    ]
    assert await feed(aggregator(), tokens("Sure, I can help.")) == ["Sure, I can help."]


async def test_every_reply_and_every_interruption_starts_over():
    text = aggregator()
    first = await feed(text, tokens("Once upon a time in the hills, there was a goat."))
    second = await feed(text, tokens("After a long long night, the sun rose."))
    assert first[0] == "Once upon a time in the hills," and second[0] == "After a long long night,"
    async for _ in text.aggregate("Never mind this"):
        pass
    await text.handle_interruption()
    assert await feed(text, tokens("Well then my friend, we go.")) == [
        "Well then my friend,",
        "we go.",
    ]


def test_token_mode_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="TOKEN aggregation emotion tags"):
        ReplyTextAggregator(aggregation_type=TextAggregationMode.TOKEN)


async def test_an_unfinished_tail_after_whole_sentences_is_dropped_when_asked():
    story = "Once upon a time there was a dragon. It lived in a cave and every night it"
    dropping = ReplyTextAggregator(
        drop_unfinished_tail=True, aggregation_type=TextAggregationMode.SENTENCE
    )
    assert await feed(dropping, tokens(story)) == ["Once upon a time there was a dragon."]
    # A one-sentence reply without a full stop, and a finished one, are spoken whole.
    assert await feed(dropping, tokens("Sure thing")) == ["Sure thing"]
    assert await feed(dropping, tokens('It is done. He said "yes."')) == [
        "It is done.",
        'He said "yes."',
    ]
    assert (await feed(aggregator(), tokens(story)))[-1] == "It lived in a cave and every night it"


async def test_no_early_cut_without_min_words():
    text = ReplyTextAggregator(min_words=None, aggregation_type=TextAggregationMode.SENTENCE)
    assert await feed(text, tokens("Well, I think the weather is lovely today, yes.")) == [
        "Well, I think the weather is lovely today, yes."
    ]


async def test_a_first_clause_also_ends_before_a_word_that_opens_the_next():
    assert await feed(
        aggregator(), tokens("The sky is blue because it scatters light. It is.")
    ) == [
        "The sky is blue",
        "because it scatters light.",
        "It is.",
    ]
    # Too short a clause, an ambiguous word, or not the first clause: whole sentences.
    assert await feed(aggregator(), tokens("I like salt and pepper.")) == [
        "I like salt and pepper."
    ]
    assert await feed(aggregator(), tokens("I think that you are right.")) == [
        "I think that you are right."
    ]
    assert await feed(aggregator(), tokens("Yes. My cat sleeps all day and all night.")) == [
        "Yes.",
        "My cat sleeps all day and all night.",
    ]


def chars(text: str) -> list[str]:
    """The worst tokeniser: one character at a time, so every tag is split across tokens."""
    return list(text)


@pytest.mark.parametrize("split", [tokens, chars])
async def test_tags_never_reach_a_piece_and_set_the_emotion_where_they_stand(split):
    seen: list[tuple[int, Emotion]] = []
    out: list[str] = []
    text = ReplyTextAggregator(
        min_words=4,
        aggregation_type=TextAggregationMode.SENTENCE,
        on_emotion=lambda emotion: seen.append((len(out), emotion)),
    )
    reply = (
        "[happy] Well I must say [happy: 0.9] that is great. [tone: warm] Hello [sad] world. "
        "It costs [excited!] a lot! [laughs] Bye."
    )
    for token in split(reply):
        async for piece in text.aggregate(token):
            out.append(piece.text)
    if last := await text.flush():
        out.append(last.text)
    assert out == [
        "Well I must say",
        "that is great.",
        "Hello",
        "world.",
        "It costs",
        "a lot!",
        "Bye.",
    ]
    assert not any(c in piece for piece in out for c in "[]:")
    # Each emotion applies from where its tag stands: before the piece after it.
    assert seen == [
        (0, Emotion(preset="happy")),
        (1, Emotion(preset="happy", intensity=0.9)),
        (3, Emotion(preset="sad")),
        (5, Emotion(preset="excited")),
    ]


async def test_a_bracket_that_is_not_a_tag_is_text_and_an_unclosed_tag_is_dropped():
    assert await feed(aggregator(), tokens("See note [1] for more. Values [a, b, c]")) == [
        "See note [1] for more.",
        "Values",
    ]
    long = "This is [" + "x" * 50 + "] long."
    assert await feed(aggregator(), tokens(long)) == [long]
    assert await feed(aggregator(), tokens("All good. [hap")) == ["All good."]


async def test_a_reply_with_nothing_to_say_gets_the_fallback_once():
    asked: list[str] = []

    def fallback(said: str) -> str:
        asked.append(said)
        return "Sorry, could you say that again?"

    text = ReplyTextAggregator(aggregation_type=TextAggregationMode.SENTENCE, fallback=fallback)
    assert await feed(text, tokens("[happy] 😀 !")) == ["Sorry, could you say that again?"]
    assert await feed(text, tokens("[sad]")) == ["Sorry, could you say that again?"]
    assert asked == [" 😀 !", ""]
    # No text at all is no answer (a failed or withdrawn completion): nothing is asked.
    assert await feed(text, []) == []
    assert len(asked) == 2
    # Something said: no fallback, whatever came before.
    assert await feed(text, tokens("[sad] Oh no.")) == ["Oh no."]
    assert len(asked) == 2
