"""The running agent, driven by a real aiortc WebRTC client on loopback, as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from audio_analysis import transcribe, word_recall, words
from prometheus_client.parser import text_string_to_metric_families

from agent.webrtc_client import SAMPLE_RATE, RTVIError, VoiceClient

pytestmark = pytest.mark.slow

QUESTION = "What is the capital of France?"
LONG_TEXT = (
    "Once upon a time, in a small village by the sea, there lived an old fisherman, "
    "who every morning rowed his little boat out past the rocks, and every evening came home "
    "with a basket full of silver fish for his neighbours."
)


async def connected(agent) -> VoiceClient:
    client = VoiceClient(agent.url)
    await client.connect()
    return client


async def test_a_spoken_question_gets_a_spoken_answer(running_agent, speech, whisper):
    client = await connected(running_agent)
    try:
        asked = await client.say(speech(QUESTION), 22050).sent()
        transcript = await client.wait_for_message("user-transcription", since=asked.started_at)
        assert "capital" in transcript["data"]["text"].lower()
        answer_start = await client.wait_for_speech(asked.ended_at)
        answer_end = await client.wait_for_silence(answer_start, hold=1.0)
        answer = client.recording.audio(answer_start, answer_end)
        assert len(answer) / SAMPLE_RATE > 0.5
        heard = transcribe(whisper, answer, SAMPLE_RATE)
        bot_text = " ".join(
            m["data"]["text"] for m in client.messages_of("bot-output", asked.started_at)
        )
        # The reply is free text (names Whisper may misspell): most of its words must be heard.
        assert word_recall(bot_text.split(".")[0], heard) >= 0.5, (bot_text, heard)
    finally:
        await client.close()


def scrape(agent) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"{agent.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_show_sessions_and_where_a_turns_time_went(running_agent, speech):
    before = scrape(running_agent)
    client = await connected(running_agent)
    try:
        asked = await client.say(speech(QUESTION), 22050).sent()
        await client.wait_for_speech(asked.ended_at)
        assert scrape(running_agent)[("agent_sessions_active", ())] >= 1
    finally:
        await client.close()
    await asyncio.sleep(1.0)  # the turn's last metrics land after its first audio
    after = scrape(running_agent)

    def grew(name: str, *labels: tuple[str, str]) -> float:
        key = (name, tuple(labels))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("agent_sessions_started_total") == 1
    for stage in ("stt", "llm", "tts"):
        assert grew("agent_stage_seconds_count", ("stage", stage)) >= 1, stage
    assert grew("agent_voice_to_voice_seconds_count") >= 1
    assert 0.1 < grew("agent_voice_to_voice_seconds_sum") < 10


async def test_a_session_uses_no_deprecated_pipecat_api(running_agent, speech):
    client = await connected(running_agent)
    try:
        asked = await client.say(speech(QUESTION), 22050).sent()
        await client.wait_for_speech(asked.ended_at)
    finally:
        await client.close()
    # Pipecat reports a deprecated call (ours) as a DeprecationWarning in the agent's log.
    warned = [line for line in running_agent.log.read_text().splitlines() if "Deprecat" in line]
    assert not warned, warned


def voiced(pcm: np.ndarray, level: int = 600) -> np.ndarray:
    """The clip without its leading and trailing silence (Piper pads both ends)."""
    loud = np.flatnonzero(np.abs(pcm) > level)
    return pcm[loud[0] : loud[-1] + 1]


async def test_a_short_pause_mid_question_gets_one_answer_to_the_whole_question(
    running_agent, speech
):
    # 0.2 s between the halves: long enough for the VAD to stop and Whisper to transcribe the first
    # half and a speculative answer (and its speech) to start, shorter than the turn's end. The
    # user goes on: it is withdrawn (pinned in test_speculative_turn.py and test_speak_ahead.py).
    pause = np.zeros(int(0.2 * 22050), np.int16)
    question = np.concatenate(
        [voiced(speech("What is the capital")), pause, voiced(speech("of France?"))]
    )
    client = await connected(running_agent)
    try:
        asked = await client.say(question, 22050).sent()
        answer = await client.wait_for_speech(asked.ended_at)
        # Nothing was said to the first half, and one reply was spoken for the whole question.
        assert client.recording.speech_seconds(asked.started_at, asked.speech_ended_at) == 0
        assert answer > asked.speech_ended_at
        await client.wait_for_silence(answer, hold=1.0)
        assert len(client.messages_of("bot-started-speaking", since=asked.started_at)) == 1
        # What the bot said answers the whole question; nothing of an answer to its first half.
        said = [m["data"]["text"] for m in client.messages_of("bot-output", since=asked.started_at)]
        inferences = client.messages_of("bot-llm-started", since=asked.started_at)
        assert said and len(inferences) <= 2, (said, inferences)
        if len(inferences) == 2:  # the first half was answered speculatively, then withdrawn
            assert "speculation withdrawn (the user spoke again)" in running_agent.log.read_text()
    finally:
        await client.close()


async def test_talking_over_the_bot_silences_it_and_the_next_turn_works(running_agent, speech):
    client = await connected(running_agent)
    try:
        await client.request("speak", {"text": LONG_TEXT})
        speaking = await client.wait_for_speech(time.monotonic())
        await asyncio.sleep(1.0)
        interruption = client.say(speech(QUESTION), 22050)
        await interruption.sent()
        onset = interruption.started_at
        # The bot goes quiet shortly after the user starts and stays quiet until the user stops.
        # (Speed is measured in benchmarks/voice_latency.py; this bound only proves the cut.)
        silent_from = client.recording.quiet_through(onset, interruption.ended_at)
        levels = [(round(t - onset, 2), int(v)) for t, v in client.recording.levels(onset)][::5]
        assert silent_from is not None and silent_from - onset < 1.5, levels
        assert client.recording.speech_seconds(speaking, onset) > 0.8
        assert client.messages_of("bot-interrupted", since=onset)
        # The interrupted story never resumes; the question gets its own answer.
        answer = await client.wait_for_speech(interruption.ended_at)
        assert answer - interruption.ended_at < 8.0
        transcript = client.messages_of("user-transcription", since=onset)
        assert transcript and "capital" in transcript[0]["data"]["text"].lower()
    finally:
        await client.close()


async def test_a_reply_cut_off_is_remembered_as_far_as_it_was_heard(tmp_path, speech, whisper):
    from agent.process import start_agent

    # At temperature 0 the bundled LLM tells this story in about 100 words.
    agent = start_agent(tmp_path / "agent.log", "llm.temperature=0")
    try:
        client = await connected(agent)
        try:
            asked = await client.say(
                speech("Can you tell me a story about a brave little mouse?"), 22050
            ).sent()
            start = await client.wait_for_speech(asked.ended_at, timeout=40)
            await asyncio.sleep(3.0)  # mid-story
            interruption = client.say(speech("Wait, stop."), 22050)
            await interruption.sent()
            quiet = client.recording.quiet_through(interruption.started_at, interruption.ended_at)
            assert quiet is not None
            heard = words(transcribe(whisper, client.recording.audio(start, quiet), SAMPLE_RATE))
            assert len(heard) >= 5, heard
            deadline = time.monotonic() + 20
            while "Reply cut off" not in agent.log.read_text() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            line = [x for x in agent.log.read_text().splitlines() if "Reply cut off" in x][0]
            kept = words(line.split("what was heard: …", 1)[1])
            assert kept, line
            # The context ends within two words of what the client heard (the last word heard
            # may be cut or misheard by Whisper: any of the context's last three words will do).
            positions = [i for i, word in enumerate(heard) if word in kept[-3:]]
            assert positions and len(heard) - 1 - max(positions) <= 2, (
                " ".join(heard),
                " ".join(kept),
            )
        finally:
            await client.close()
    finally:
        agent.stop()


async def spoken(client: VoiceClient, text: str, **extra) -> tuple[float, float]:
    """Ask the bot to speak `text`; return when its audio started and stopped at the client."""
    sent_at = time.monotonic()
    reply = await client.request("speak", {"text": text, **extra})
    assert reply["queued"] is True
    start = await client.wait_for_speech(sent_at)
    end = await client.wait_for_silence(start, hold=1.0)
    return start, end


async def heard(client: VoiceClient, whisper, text: str) -> str:
    """Have the bot speak `text` and transcribe what the client heard."""
    start, end = await spoken(client, text)
    return transcribe(whisper, client.recording.audio(start, end), SAMPLE_RATE)


async def test_speak_says_exactly_the_text(running_agent, whisper):
    client = await connected(running_agent)
    try:
        text = "The quick brown fox jumps over the lazy dog."
        transcript = await heard(client, whisper, text)
        assert word_recall(text, transcript) >= 0.8, transcript
    finally:
        await client.close()


async def test_set_emotion_is_acknowledged_and_changes_what_is_heard(running_agent):
    client = await connected(running_agent)
    text = "I walked along the river this morning and watched the boats go by."
    try:
        happy = await client.request("set-emotion", {"preset": "happy"})
        assert happy["emotion"] == {"mode": "preset", "preset": "happy", "intensity": 1.0}
        happy_start, happy_end = await spoken(client, text)
        sad = await client.request("set-emotion", {"preset": "sad", "intensity": 1.0})
        assert sad["label"] == "sad@1"
        assert (await client.request("get-emotion", {}))["label"] == "sad@1"
        sad_start, sad_end = await spoken(client, text)
        # Sad is rendered slower: the same text takes clearly longer.
        assert (sad_end - sad_start) / (happy_end - happy_start) > 1.15
        notices = [
            m["data"]
            for m in client.messages_of("server-message")
            if m["data"].get("type") == "emotion"
        ]
        assert [n["emotion"].get("preset") for n in notices][-2:] == ["happy", "sad"]
        # A per-utterance emotion in speak leaves the session emotion alone.
        await spoken(client, "Hooray!", emotion="excited", intensity=0.8)
        assert (await client.request("get-emotion", {}))["label"] == "sad@1"
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("dance", {}, "unknown message type 'dance'"),
        ("set-emotion", {"preset": "sulky"}, "valid presets: neutral"),
        ("set-emotion", {"vector": [1, 2]}, "has 8 values"),
        ("set-emotion", {"preset": "sad", "intensity": 4}, "intensity must be in [0, 1]"),
        ("set-emotion", {}, "needs a preset, vector, description, or allow_llm"),
        ("set-emotion", {"allow_llm": "yes"}, "allow_llm is true or false"),
        ("set-emotion", ["sad"], "takes an object"),
        ("speak", {"text": "   "}, "non-empty text"),
        ("speak", {"text": "x" * 3000}, "at most 2000"),
        ("speak", {"text": "Hi", "emotion": "grumpy"}, "valid presets"),
        # Clients name reference clips; they never reach the server's files by path.
        (
            "speak",
            {"text": "Hi", "emotion": {"reference_audio": "/etc/hostname"}},
            "['reference_audio']; valid fields",
        ),
        ("set-emotion", {"reference": "../../etc/hostname"}, "unknown reference clip"),
    ],
)
async def test_bad_client_messages_get_error_responses(running_agent, kind, data, message):
    client = await connected(running_agent)
    try:
        with pytest.raises(RTVIError, match=message.replace("[", r"\[")):
            await client.request(kind, data)
        # The session is unharmed.
        assert (await client.request("get-emotion", {}))["emotion"]["preset"] == "neutral"
    finally:
        await client.close()


def post(url: str, body: object, method: str = "POST") -> tuple[int, Any, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"sdp": "hello", "type": "offer"}, 400, "not an SDP offer"),
        (
            {"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "offer"},
            400,
            "could not use",
        ),
        ({"sdp": "v=0", "type": "answer"}, 422, "offer"),
        ({"type": "offer"}, 422, "sdp"),
        ({"sdp": "v=0\r\n" + "a" * 70_000, "type": "offer"}, 422, "sdp"),
    ],
)
def test_bad_offers_are_clear_json_errors(running_agent, body, status, text):
    code, headers, payload = post(f"{running_agent.url}/api/offer", body)
    assert code == status
    # The TTS server's error shape (tts_plugin/server/errors.py), never a long value echoed back.
    error = payload["error"]
    assert text in error["message"] and error["type"] == "invalid_request_error"
    assert error["request_id"] == headers["X-Request-ID"] and len(error["message"]) < 500


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def test_a_flood_of_refused_offers_grows_neither_tasks_threads_nor_memory(running_agent):
    # Offers that parse but WebRTC cannot use get as far as a peer connection before they fail.
    unusable = {"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "offer"}
    garbage = {"sdp": "v=0\r\nm=audio x y z\r\n", "type": "offer"}
    url = f"{running_agent.url}/api/offer"
    for _ in range(20):  # warm-up: first-use allocations are not a leak
        post(url, unusable)
    time.sleep(1.0)
    before, rss = running_agent.health()["process"], rss_kib(running_agent.process.pid)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: post(url, unusable if i % 2 else garbage)[0], range(400)))
    assert set(codes) == {400}
    time.sleep(1.0)
    after = running_agent.health()["process"]
    assert after["asyncio_tasks"] <= before["asyncio_tasks"] + 2, (before, after)
    assert after["threads"] <= before["threads"] + 2, (before, after)
    assert rss_kib(running_agent.process.pid) - rss < 30_000  # KiB, for 400 refused offers


def test_bad_candidate_patches_are_clear_json_errors(running_agent):
    code, _, payload = post(
        f"{running_agent.url}/api/offer", {"pc_id": "nobody", "candidates": []}, method="PATCH"
    )
    assert code == 404 and payload["error"]["message"] == "Peer connection not found"
    code, _, _ = post(f"{running_agent.url}/api/offer", {"candidates": "x"}, method="PATCH")
    assert code == 422


@pytest.mark.parametrize(
    "candidate, status, text",
    [
        ({"candidate": "not a candidate", "sdpMid": "0", "sdpMLineIndex": 0}, 400, "bad ICE"),
        ({"candidate": "candidate:" + "9" * 5000, "sdpMid": "0", "sdpMLineIndex": 0}, 422, "1024"),
        ({"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host", "sdpMid": "0" * 100,
          "sdpMLineIndex": 0}, 422, "64"),
        ({"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host", "sdpMid": "0",
          "sdpMLineIndex": -1}, 422, "greater"),
    ],
)  # fmt: skip
async def test_bad_candidates_for_a_live_session_are_refused_and_it_goes_on(
    running_agent, speech, candidate, status, text
):
    client = await connected(running_agent)
    try:
        code, _, payload = await asyncio.to_thread(
            post,
            f"{running_agent.url}/api/offer",
            {"pc_id": client.pc_id, "candidates": [candidate]},
            method="PATCH",
        )
        assert code == status and text in json.dumps(payload), payload
        asked = await client.say(speech(QUESTION), 22050).sent()
        await client.wait_for_speech(asked.ended_at, timeout=20)
    finally:
        await client.close()


async def test_sessions_are_capped_and_freed_when_clients_leave(running_agent):
    clients = [await connected(running_agent) for _ in range(2)]
    try:
        assert running_agent.health()["sessions"] == 2
        extra = VoiceClient(running_agent.url)
        with pytest.raises(RuntimeError, match="503"):
            await extra.connect()
        await extra.close()
        refused = scrape(running_agent).get(("agent_sessions_refused_total", ()), 0)
        code, headers, payload = post(
            f"{running_agent.url}/api/offer", {"sdp": "v=0\r\nm=audio 9 x\r\n", "type": "offer"}
        )
        assert scrape(running_agent)[("agent_sessions_refused_total", ())] == refused + 1
        assert (
            code == 503
            and int(headers["Retry-After"]) > 0
            and "busy" in payload["error"]["message"]
        )
    finally:
        # One leaves politely, the other vanishes like a killed tab.
        await clients[0].close()
        await clients[1].close(polite=False)
    deadline = time.monotonic() + 20
    while running_agent.health()["sessions"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert running_agent.health()["sessions"] == 0


# A peer that never pings, then dies (SIGKILL: no goodbye, no DTLS close).
_SILENT_PEER = """
import asyncio, sys
from agent.webrtc_client import VoiceClient

async def main():
    client = VoiceClient(sys.argv[1], pings=False)
    await client.connect()
    print("connected", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_killed_peer_that_never_pinged_frees_its_slot_within_5_s(running_agent):
    peer = subprocess.Popen(
        [sys.executable, "-c", _SILENT_PEER, running_agent.url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert await asyncio.to_thread(peer.stdout.readline) == "connected\n"
        await asyncio.sleep(4.0)  # longer than the grace: its audio alone keeps it alive
        assert running_agent.health()["sessions"] == 1
        peer.kill()
        killed = time.monotonic()
        while running_agent.health()["sessions"] and time.monotonic() - killed < 15:
            await asyncio.sleep(0.1)
        freed_after = time.monotonic() - killed
    finally:
        peer.kill()
        peer.wait()
    assert running_agent.health()["sessions"] == 0
    assert freed_after < 5.0, freed_after


async def test_the_cap_holds_when_offers_arrive_at_once(running_agent):
    idle_tasks = running_agent.health()["process"]["asyncio_tasks"]
    clients = [VoiceClient(running_agent.url) for _ in range(6)]
    results = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    try:
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 4 and all("503" in str(r) for r in refused), results
        assert running_agent.health()["sessions"] == 2
    finally:
        for client in clients:
            await client.close()
    deadline = time.monotonic() + 20
    while running_agent.health()["sessions"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert running_agent.health()["sessions"] == 0
    # Refused offers and ended sessions leave no task behind.
    while running_agent.health()["process"]["asyncio_tasks"] > idle_tasks:
        assert time.monotonic() < deadline + 10, running_agent.health()["process"]
        await asyncio.sleep(0.2)


async def test_llm_server_killed_mid_call_the_bot_apologises_and_recovers(
    running_agent, speech, whisper
):
    client = await connected(running_agent)
    try:
        os.kill(running_agent.llm_server_pid(), signal.SIGKILL)
        asked = await client.say(speech(QUESTION), 22050).sent()
        start = await client.wait_for_speech(asked.ended_at, timeout=20)
        end = await client.wait_for_silence(start, hold=1.0)
        heard = transcribe(whisper, client.recording.audio(start, end), SAMPLE_RATE).lower()
        assert "sorry" in heard, heard
        # The supervisor restarts the server; the same call then gets real answers again.
        deadline = time.monotonic() + 60
        while not running_agent.health()["llm"]["healthy"] and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert running_agent.health()["llm"]["healthy"]
        again = await client.say(speech(QUESTION), 22050).sent()
        await client.wait_for_speech(again.ended_at, timeout=20)
        outputs = client.messages_of("bot-output", since=again.started_at)
        assert outputs and "sorry" not in outputs[0]["data"]["text"].lower()
    finally:
        await client.close()


async def test_the_agent_speaks_through_a_remote_tts_server(tmp_path, whisper):
    from agent.llm_server import free_port
    from agent.process import start_agent

    port = free_port()
    server = start_tts_server(port, tmp_path)
    try:
        agent = start_agent(
            tmp_path / "agent.log", "tts.engine=remote", f"tts.remote_url=http://127.0.0.1:{port}"
        )
        try:
            assert agent.health()["tts_engine"] == "remote"
            client = await connected(agent)
            try:
                text = "The remote server is speaking now."
                transcript = await heard(client, whisper, text)
                assert word_recall(text, transcript) >= 0.6, transcript
            finally:
                await client.close()
            assert agent.health()["tts"] == {"engine": "remote", "healthy": True}
            # The speech service goes down: the agent says so; it comes back: so does the agent.
            server.terminate()
            server.wait(10)
            health = agent.health()
            assert health["status"] == "degraded" and health["tts"]["healthy"] is False
            server = start_tts_server(port, tmp_path)
            health = agent.health()
            assert health["status"] == "ok" and health["tts"]["healthy"] is True
        finally:
            agent.stop()
    finally:
        server.terminate()
        server.wait(10)


def start_tts_server(port: int, tmp_path) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "tts_plugin", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "tts.log").open("a"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise TimeoutError("the TTS server did not come up")


async def test_speech_that_breaks_off_mid_reply_gets_an_apology_and_the_call_goes_on(
    tmp_path, embedded_engine
):
    from http_serving import serving
    from scripted_engine import FlakyEngine

    from agent.process import start_agent
    from tts_plugin.server.app import create_app

    flaky = FlakyEngine(embedded_engine)
    with serving(create_app(flaky)) as port:
        agent = start_agent(
            tmp_path / "agent.log", "tts.engine=remote", f"tts.remote_url=http://127.0.0.1:{port}"
        )
        try:
            client = await connected(agent)
            try:
                sent = time.monotonic()
                await client.request("speak", {"text": LONG_TEXT})
                apology = await client.wait_for_message("bot-output", since=sent, timeout=20)
                deadline = time.monotonic() + 20
                while not any(
                    "voice cut out" in m["data"]["text"]
                    for m in client.messages_of("bot-output", since=sent)
                ):
                    assert time.monotonic() < deadline, client.messages_of("bot-output", sent)
                    await asyncio.sleep(0.2)
                assert flaky.broken == 1 and apology
                # The apology is heard, and the call goes on.
                await client.wait_for_speech(time.monotonic() - 1.0, timeout=10)
                again = time.monotonic()
                await client.request("speak", {"text": "Still here."})
                await client.wait_for_speech(again, timeout=20)
            finally:
                await client.close()
        finally:
            agent.stop()


async def test_a_backchannel_does_not_interrupt_with_min_words_barge_in(tmp_path, speech):
    from agent.process import start_agent

    agent = start_agent(tmp_path / "agent.log", "turns.barge_in=min_words", "turns.min_words=3")
    try:
        client = await connected(agent)
        try:
            sent = time.monotonic()
            await client.request("speak", {"text": LONG_TEXT})
            await client.wait_for_speech(sent)
            await asyncio.sleep(1.0)
            mhm = await client.say(speech("Okay."), 22050).sent()
            await asyncio.sleep(2.5)  # long enough for its transcript to arrive
            assert not client.messages_of("bot-interrupted", since=mhm.started_at)
            assert client.recording.speech_seconds(mhm.ended_at, mhm.ended_at + 2.0) > 1.0
            stop = await client.say(speech("Wait, please stop talking now."), 22050).sent()
            await client.wait_for_message("bot-interrupted", since=stop.started_at, timeout=10)
        finally:
            await client.close()
    finally:
        agent.stop()


async def test_hostile_rtvi_messages_leave_the_session_up_and_speaking(running_agent):
    client = await connected(running_agent)
    try:
        channel = client._channel
        deep = "[" * 5000 + '"x"' + "]" * 5000  # deeper than any JSON parser's recursion limit
        garbage = [
            "not json at all",
            b"\x00\x01binary frame\xff",
            json.dumps({"label": "rtvi-ai", "type": "no-such-type", "id": "1", "data": {}}),
            json.dumps({"label": "rtvi-ai", "type": "client-message", "id": "2", "data": 7}),
            json.dumps({"label": "rtvi-ai", "type": "client-message", "id": "3",
                        "data": {"t": "set-emotion", "d": {"preset": "x" * 250_000}}}),  # SCTP caps messages at 256 KiB
            '{"label": "rtvi-ai", "type": "client-message", "id": "4", "data": {"t": "speak", "d": '
            + deep
            + "}}",
            json.dumps([1, 2, 3]),
        ]  # fmt: skip
        for message in garbage:
            channel.send(message)
        # A flood: 1000 unknown client messages within about a second.
        for i in range(1000):
            channel.send(json.dumps({"label": "rtvi-ai", "type": "client-message", "id": f"f{i}",
                                     "data": {"t": "no-such-message", "d": None}}))  # fmt: skip
            if i % 100 == 99:
                await asyncio.sleep(0.1)
        with pytest.raises(RTVIError, match="preset"):
            await client.request("set-emotion", {"preset": "nope"}, timeout=30)
        assert (await client.request("get-emotion", {}, timeout=30))["label"]
        sent = time.monotonic()
        assert (await client.request("speak", {"text": "Still here."}))["queued"] is True
        start = await client.wait_for_speech(sent, timeout=30)
        await client.wait_for_silence(start, hold=0.8)
        assert running_agent.health()["sessions"] == 1
    finally:
        await client.close()
