"""Voice uploads: auth, content sniffing, limits, safe names, persistence."""

from __future__ import annotations

import http.client
import io
import json
import wave

import numpy as np
import pytest
from scripted_engine import ScriptedEngine
from test_speech_api import serving

from tts_plugin.server.app import create_app

TOKEN = "s3cret-token"


def clip(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        tone = 3000 * np.sin(np.arange(int(seconds * 16000)) * 2 * np.pi * 220 / 16000)
        wav.writeframes(tone.astype(np.int16).tobytes())
    return buffer.getvalue()


def call(port, method, path, body=b"", token=TOKEN, content_type="audio/wav"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    raw = response.read()
    try:
        return response.status, response, json.loads(raw) if raw else None
    except ValueError:
        return response.status, response, raw.decode(errors="replace")


@pytest.fixture
def port(voices_dir):
    with serving(create_app(ScriptedEngine(), voices_dir=voices_dir, token=TOKEN)) as port:
        yield port


def test_upload_list_delete_and_survive_a_restart(port, voices_dir):
    status, _, body = call(port, "PUT", "/v1/voices/grandpa", clip(3.0))
    assert status == 201 and body["name"] == "grandpa" and abs(body["seconds"] - 3.0) < 0.01
    _, _, listed = call(port, "GET", "/v1/voices", token=None)
    assert [v["name"] for v in listed["voices"]] == ["alice", "bob", "grandpa"]
    with serving(create_app(ScriptedEngine(), voices_dir=voices_dir, token=TOKEN)) as again:
        _, _, relisted = call(again, "GET", "/v1/voices", token=None)
        assert "grandpa" in [v["name"] for v in relisted["voices"]]
    assert call(port, "DELETE", "/v1/voices/grandpa")[0] == 204
    assert call(port, "DELETE", "/v1/voices/grandpa")[0] == 404


@pytest.mark.parametrize(
    ("path", "body", "token", "status", "text"),
    [
        ("/v1/voices/x1", clip(2), None, 401, "bearer token"),
        ("/v1/voices/x1", clip(2), "wrong", 401, "bearer token"),
        (
            "/v1/voices/x1",
            b"RIFF....WAVEthis is plain text, not audio" * 10,
            TOKEN,
            415,
            "not an audio",
        ),
        ("/v1/voices/x1", b"hello, I am a text file named voice.wav", TOKEN, 415, "not an audio"),
        ("/v1/voices/x1", clip(0.2), TOKEN, 422, "lasts 1-30 s"),
        ("/v1/voices/x1", clip(40), TOKEN, 422, "lasts 1-30 s"),
        ("/v1/voices/x1", b"RIFF" + bytes(11 * 1024 * 1024), TOKEN, 413, "at most"),
        ("/v1/voices/Bad..Name", clip(2), TOKEN, 422, "pattern"),
        ("/v1/voices/alice", clip(2), TOKEN, 409, "built-in"),
    ],
    ids=[
        "no-token",
        "wrong-token",
        "riff-text",
        "text",
        "short",
        "long",
        "large",
        "bad-name",
        "builtin",
    ],
)
def test_bad_uploads_are_refused_clearly(port, path, body, token, status, text):
    code, response, payload = call(port, "PUT", path, body, token=token)
    assert code == status and text in json.dumps(payload)
    if code == 401:
        assert response.getheader("WWW-Authenticate") == "Bearer"


def test_uploads_are_off_without_a_token(voices_dir, monkeypatch):
    monkeypatch.delenv("TTS_SERVER_TOKEN", raising=False)
    with serving(create_app(ScriptedEngine(), voices_dir=voices_dir)) as port:
        code, _, payload = call(port, "PUT", "/v1/voices/x1", clip(2))
    assert code == 403 and "TTS_SERVER_TOKEN" in payload["error"]["message"]
