"""The web page in a real headless Chromium (Debian's), with a fake microphone playing a WAV."""

from __future__ import annotations

import json
import time
import wave

import pytest
from browser import CHROMIUM, chromium_page, microphone_wav
from nasty_text import NOTHING_TO_SAY, corpus

pytestmark = pytest.mark.slow

STORY = (
    "Once upon a time, in a small village by the sea, there lived an old fisherman, who every "
    "morning rowed his little boat out past the rocks, and every evening came home with a basket "
    "full of silver fish for his neighbours, who loved him dearly and sang songs about his boat."
)


@pytest.fixture
def browser_page(tmp_path, embedded_engine):
    with chromium_page(microphone_wav(embedded_engine, tmp_path / "mic.wav")) as page:
        yield page


def ui(page, expression: str):
    return page.evaluate(f"() => window.agentUi.{expression}")


def test_a_conversation_in_the_browser(browser_page, running_agent, tmp_path):
    page = browser_page
    page.goto(running_agent.url)
    assert page.title().startswith("pipecat-indextts2")
    page.get_by_role("button", name="Connect").click()
    page.wait_for_function("() => window.agentUi.state === 'connected'", timeout=20000)
    assert page.locator("#state").inner_text() == "Connected"

    # The question at 1 s is transcribed and answered: the page hears bot audio and times it.
    page.locator(".transcript li.user", has_text="capital").wait_for(timeout=30000)
    page.wait_for_function("() => window.agentUi.metrics.v2v.length > 0", timeout=30000)
    page.locator(".transcript li.bot").first.wait_for(timeout=10000)
    # From the end of the question to the reply's first audio: Whisper + LLM + TTS, not a blip.
    assert 500 < ui(page, "metrics.v2v[0]") < 15000
    assert page.locator("#v2v").inner_text().endswith("ms")
    # Where the turn's time went, from Pipecat's metrics over RTVI: a bar of stages per turn.
    turn = ui(page, "turns[0]")
    assert all(turn.get(stage, 0) > 0 for stage in ("stt", "llm", "tts")), turn
    assert turn["stt"] + turn["llm"] + turn["tts"] + turn["other"] >= turn["v2v"] - 1
    assert page.locator("#turn-bars li span.llm").count() >= 1

    # The text box makes the bot read a long story at once (time to first audio measured).
    page.fill("#speak-text", STORY)
    page.get_by_role("button", name="Speak").click()
    page.wait_for_function("() => window.agentUi.metrics.ttfa.length > 0", timeout=20000)
    assert ui(page, "metrics.ttfa[0]") < 5000

    # An emotion change through the UI is acknowledged by the server.
    page.select_option("#emotion", "sad")
    page.locator("#active-emotion", has_text="sad").wait_for(timeout=10000)

    # The interruption at 13 s cuts the story off: marked in the transcript, timed on the page.
    page.wait_for_function("() => window.agentUi.metrics.bargein.length > 0", timeout=30000)
    cut = page.locator(".transcript li.interrupted", has_text="Once upon a time")
    cut.wait_for(timeout=10000)
    assert 0 <= ui(page, "metrics.bargein[0]") < 2000
    time.sleep(1.5)
    # The line shows what was heard (words arrive as their audio plays), marked where it was cut:
    # the story's words from its start (how many depends on the machine's speed), not its end,
    # which was never played. No line ever shows an emotion tag.
    heard = cut.inner_text().strip()
    assert STORY.startswith(heard) and "sang songs about his boat" not in heard, heard
    assert cut.get_attribute("data-cut") == "interrupted"  # the mark's text, in the page's language
    assert "attr(data-cut)" in page.evaluate(
        "getComputedStyle(document.querySelector('li.interrupted'), '::after').content"
    ) or "interrupted" in page.evaluate(
        "getComputedStyle(document.querySelector('li.interrupted'), '::after').content"
    )
    assert not any("[" in line for line in page.locator(".transcript li").all_inner_texts())
    page.screenshot(path=str(tmp_path / "conversation.png"), full_page=True)

    # Disconnect is clean: the page says so and the agent frees the session.
    page.get_by_role("button", name="Disconnect").click()
    page.wait_for_function("() => window.agentUi.state === 'idle'", timeout=5000)
    deadline = time.monotonic() + 15
    while running_agent.health()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running_agent.health()["sessions"] == 0
    assert (tmp_path / "conversation.png").stat().st_size > 10_000


def test_a_chinese_browser_gets_the_page_in_chinese_and_holds_a_conversation(
    running_agent, embedded_engine, tmp_path
):
    microphone = microphone_wav(embedded_engine, tmp_path / "mic.wav")
    with chromium_page(microphone, locale="zh-CN") as page:
        page.goto(running_agent.url)
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.locator("h1").inner_text() == "语音助手"
        assert page.locator("#state").inner_text() == "未连接"
        assert page.locator("#emotion option[value=sad]").inner_text() == "悲伤"
        page.get_by_role("button", name="连接").click()
        page.wait_for_function("() => window.agentUi.state === 'connected'", timeout=20000)
        assert page.locator("#state").inner_text() == "已连接"
        assert page.get_by_role("button", name="断开").is_visible()
        # The question at 1 s is heard and answered, as in English.
        page.locator(".transcript li.user", has_text="capital").wait_for(timeout=30000)
        page.locator(".transcript li.bot").first.wait_for(timeout=30000)
        page.select_option("#emotion", "sad")
        page.locator("#active-emotion", has_text="悲伤").wait_for(timeout=10000)
        # The switch turns the page (and its state line) English, and it stays connected.
        page.select_option("#lang", "en")
        assert page.locator("h1").inner_text() == "Voice agent"
        assert page.locator("#state").inner_text() == "Connected"
        assert page.locator("#active-emotion").inner_text().startswith("sad")


def test_a_denied_microphone_is_explained(running_agent):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--deny-permission-prompts"],
        )
        page = browser.new_page()
        page.goto(running_agent.url)
        page.get_by_role("button", name="Connect").click()
        page.wait_for_function("() => window.agentUi.state === 'failed'", timeout=10000)
        assert (
            "denied" in page.locator("#mic-error").inner_text()
            or "microphone" in page.locator("#state").inner_text()
        )
        browser.close()


def test_the_speak_box_speaks_nasty_text_or_refuses_it_and_the_session_goes_on(
    running_agent, tmp_path
):
    # The generated corpus (tests/nasty_text.py), typed into the page's speak box as a user could
    # paste it (lone surrogates included: the page sends them as JSON escapes over RTVI).
    rate = 48000
    with wave.open(str(tmp_path / "silence.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(2 * 10 * rate))
    with chromium_page(tmp_path / "silence.wav") as page:
        page.goto(running_agent.url)
        page.get_by_role("button", name="Connect").click()
        page.wait_for_function("() => window.agentUi.state === 'connected'", timeout=20000)
        for name, text in corpus().items():
            spoken = ui(page, "metrics.ttfa.length")
            errors = ui(page, "events.filter(e => e.type === 'error').length")
            page.evaluate(
                f"() => {{ document.getElementById('speak-text').value = {json.dumps(text)}; }}"
            )
            page.get_by_role("button", name="Speak").click()
            if name in NOTHING_TO_SAY:
                page.wait_for_function(
                    f"() => window.agentUi.events.filter(e => e.type === 'error').length > {errors}",
                    timeout=10000,
                )
                assert "nothing to say" in ui(page, "events.at(-1).error"), name
            else:
                page.wait_for_function(
                    f"() => window.agentUi.metrics.ttfa.length > {spoken}", timeout=15000
                )
                page.locator("#bot-indicator", has_text="quiet").wait_for(timeout=20000)
        assert ui(page, "state") == "connected"
    assert running_agent.health()["status"] == "ok"
