"""A reply's first clause goes to the engine before its sentence ends; the rest by sentences."""

from __future__ import annotations

from pipecat.services.tts_service import TextAggregationMode

from tts_plugin.clause_aggregator import FirstClauseTextAggregator


async def feed(aggregator: FirstClauseTextAggregator, tokens: list[str]) -> list[str]:
    out = []
    for token in tokens:
        out += [a.text async for a in aggregator.aggregate(token)]
    last = await aggregator.flush()
    return out + ([last.text] if last and last.text else [])


def tokens(text: str) -> list[str]:
    """LLM-like tokens: words with their leading space."""
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def aggregator() -> FirstClauseTextAggregator:
    return FirstClauseTextAggregator(min_words=4, aggregation_type=TextAggregationMode.SENTENCE)


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


async def test_token_mode_passes_tokens_through():
    text = FirstClauseTextAggregator(aggregation_type=TextAggregationMode.TOKEN)
    assert [a.text async for a in text.aggregate("Hello, world")] == ["Hello, world"]


async def test_an_unfinished_tail_after_whole_sentences_is_dropped_when_asked():
    story = "Once upon a time there was a dragon. It lived in a cave and every night it"
    dropping = FirstClauseTextAggregator(
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
    text = FirstClauseTextAggregator(min_words=None, aggregation_type=TextAggregationMode.SENTENCE)
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
