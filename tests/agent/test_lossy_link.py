"""A session over a bad link (agent/lossy_link.py): it degrades, it does not drop."""

from __future__ import annotations

import asyncio

import pytest

from agent.lossy_link import LinkConditions
from agent.webrtc_client import VoiceClient

pytestmark = pytest.mark.slow


def test_link_specs_parse_and_refuse_clearly():
    assert LinkConditions.parse("clean") == LinkConditions()
    assert LinkConditions.parse("loss=0.05,jitter=40,delay=20,seed=3") == LinkConditions(
        loss=0.05, jitter_ms=40, delay_ms=20, seed=3
    )
    with pytest.raises(ValueError, match="use clean or loss="):
        LinkConditions.parse("lose=0.5")


async def test_at_20_percent_loss_and_40_ms_jitter_a_turn_is_answered_and_the_session_stays(
    running_agent, speech
):
    link = LinkConditions(loss=0.2, jitter_ms=40, delay_ms=10, seed=1)
    client = VoiceClient(running_agent.url, link=link)
    await client.connect()
    try:
        asked = await client.say(speech("What is the capital of France?"), 22050).sent()
        start = await client.wait_for_speech(asked.ended_at, timeout=30)
        await client.wait_for_silence(start, hold=1.0, timeout=60)
        # Longer than the vanished-peer detector's 3 s: packets still arrive, so it must not fire.
        await asyncio.sleep(5.0)
        assert running_agent.health()["sessions"] >= 1
        again = await client.say(speech("Where do penguins live?"), 22050).sent()
        await client.wait_for_speech(again.ended_at, timeout=30)
    finally:
        await client.close()
    counts = client.link_counts
    assert counts.sent > 200 and counts.received > 200
    assert 0.12 < counts.sent_dropped / counts.sent < 0.28
    assert 0.12 < counts.received_dropped / counts.received < 0.28
