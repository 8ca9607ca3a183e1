"""The text boundary, on a generated corpus of nasty strings (tests/nasty_text.py): the engine, the
TTS server and the Pipecat service each speak what is sayable and refuse or skip the rest cleanly."""

from __future__ import annotations

import http.client
import json
import unicodedata

import pytest
from http_serving import serving
from nasty_text import NOTHING_TO_SAY, corpus
from pipecat.frames.frames import ErrorFrame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.tests.utils import run_test

from tts_plugin.engine import NothingToSay, SynthesisRequest
from tts_plugin.server.app import create_app
from tts_plugin.service import IndexTTS2TTSService
from tts_plugin.speakable_text import MAX_MARKS, clean

TEXTS = corpus()
SAYABLE = {name: text for name, text in TEXTS.items() if name not in NOTHING_TO_SAY}


@pytest.mark.parametrize("name", TEXTS)
def test_an_engine_only_ever_gets_clean_text(name):
    text = TEXTS[name]
    if name in NOTHING_TO_SAY:
        with pytest.raises(NothingToSay):
            SynthesisRequest(text=text)
        return
    said = SynthesisRequest(text=text).text
    assert said and said == said.strip()
    for ch in said:
        category = unicodedata.category(ch)
        assert category not in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\n\t", (name, hex(ord(ch)))
    run = 0
    for ch in said:
        run = run + 1 if unicodedata.category(ch).startswith("M") else 0
        assert run <= MAX_MARKS


def test_what_is_kept_is_kept_as_written():
    assert (
        clean("我今天买了3个apple，花了¥12.50元！OK吗？")
        == "我今天买了3个apple，花了¥12.50元！OK吗？"
    )
    assert clean("Ｆｕｌｌ ｗｉｄｔｈ １２３ ﬁne") == "Full width 123 fine"
    assert clean("hello \x00 there\n\tnext") == "hello there\n next"
    assert clean("café") == "café"  # decomposed e + acute composes


def test_the_server_speaks_or_refuses_each_before_any_byte_and_stays_up(embedded_engine):
    with serving(create_app(embedded_engine)) as port:
        for name, text in TEXTS.items():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            # ensure_ascii: lone surrogates travel as JSON escapes, as a hostile client sends them.
            body = json.dumps({"input": text, "response_format": "mp3"}, ensure_ascii=True)
            connection.request(
                "POST", "/v1/audio/speech", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            payload = response.read()  # a broken-off body raises here
            if name in NOTHING_TO_SAY:
                assert response.status == 400, (name, payload[:200])
                assert "nothing to say" in json.loads(payload)["error"]["message"]
            elif name == "lone surrogates":  # not valid UTF-16 text: the JSON parser refuses it
                assert response.status == 422, (name, payload[:200])
                assert json.loads(payload)["error"]["param"] == "input"
            else:
                assert response.status == 200 and len(payload) > 1000, (name, payload[:200])
            connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200


async def test_the_service_speaks_the_sayable_and_skips_the_rest_without_an_error(embedded_engine):
    for name, text in TEXTS.items():
        tts = IndexTTS2TTSService(engine=embedded_engine)
        down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame(text)])
        audio = sum(len(f.audio) for f in down if isinstance(f, TTSAudioRawFrame))
        assert not [f for f in up if isinstance(f, ErrorFrame)], name
        assert (audio == 0) == (name in NOTHING_TO_SAY), (name, audio)
