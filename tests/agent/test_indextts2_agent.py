"""`python -m agent --profile indextts2-gpu` end to end, on tiny IndexTTS-2 and 2.5 checkpoints (CPU).

The GPU profile with one flag pointing at checkpoints: the real agent process, a real aiortc client,
the real IndexTTS2 engine (random weights, so the bot "speaks" noise, which is all the client measures),
the profile's multilingual Whisper and the bundled LLM, in English and Mandarin.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from agent.process import start_agent
from agent.webrtc_client import VoiceClient

pytestmark = pytest.mark.slow
CODES = 60  # 2.4 s of audio per segment on IndexTTS-2.5, 1.2 s on IndexTTS-2


@pytest.fixture(scope="module")
def indextts2_agent(tmp_path_factory, tiny_model_dir):
    agent = start_agent(
        tmp_path_factory.mktemp("agent-indextts2") / "agent.log",
        f"tts.model_dir={tiny_model_dir}",
        "tts.device=cpu",
        "tts.diffusion_steps=4",
        f"tts.max_codes={CODES}",
        "tts.text_normalization=false",
        profile="indextts2-gpu",
        timeout=180,
    )
    yield agent
    agent.stop()


async def test_the_gpu_profile_speaks_through_the_indextts2_engine(indextts2_agent, tiny_model_dir):
    per_code = 1.72 if (tiny_model_dir / "bpe.model").exists() else 2 * 1.72  # 50 or 25 codes/s
    client = VoiceClient(indextts2_agent.url)
    await client.connect()
    try:
        ack = await client.request("set-emotion", {"preset": "sad", "intensity": 0.7})
        assert ack["label"] == "sad@0.7"
        sent = time.monotonic()
        assert (await client.request("speak", {"text": "Hello there."}))["queued"] is True
        start = await client.wait_for_speech(sent)
        # The engine need not keep real time on a loaded CPU: the transport sends silence between
        # late chunks. The reply has ended once the TTS says so and its queued audio has played.
        stopped = await client.wait_for_message("bot-tts-stopped", start, timeout=120)
        end = await client.wait_for_silence(stopped["_received_at"], hold=1.0)
        heard = client.recording.speech_seconds(start, end)
        expected = int(CODES * per_code) * 256 / 22050
        assert 0.6 * expected < heard < expected + 0.3, (heard, expected)
    finally:
        await client.close()


HAN = re.compile(r"[\u4e00-\u9fff]")


def spoken_requests(agent, since: int) -> list[tuple[str, str]]:
    """(text, language) of each IndexTTS2 request the agent's log shows after line `since`."""
    lines = agent.log.read_text().splitlines()[since:]
    texts = [m.group(1) for line in lines if (m := re.search(r"Generating TTS \[(.*)\]", line))]
    languages = [m.group(1) for line in lines if (m := re.search(r", language (\S+)$", line))]
    return list(zip(texts, languages, strict=False))


@pytest.mark.parametrize(
    ("question", "language"),
    [("请给我讲一个故事。", "zh"), ("What is the capital of France?", "en")],
    ids=["Mandarin", "English"],
)
async def test_a_question_reaches_indextts2_in_the_language_it_was_asked_in(
    indextts2_agent, speech, question, language
):
    # Whisper base hears the language; the LLM answers in it; the request carries it.
    since = len(indextts2_agent.log.read_text().splitlines())
    client = VoiceClient(indextts2_agent.url)
    await client.connect()
    try:
        asked = await client.say(speech(question), 22050).sent()
        heard = await client.wait_for_message("user-transcription", since=asked.started_at)
        assert bool(HAN.search(heard["data"]["text"])) == (language == "zh"), heard
        deadline = time.monotonic() + 90
        while not spoken_requests(indextts2_agent, since) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        text, spoken_in = spoken_requests(indextts2_agent, since)[0]
        assert spoken_in == language, (text, spoken_in)
        assert bool(HAN.search(text)) == (language == "zh"), text
    finally:
        await client.close()
