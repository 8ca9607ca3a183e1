"""The TTS server's audit log, read back from its rotating file."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time

from scripted_engine import ScriptedEngine
from test_speech_api import post, serving
from test_voices_api import TOKEN, call, clip

from agent.llm_server import free_port
from tts_plugin.server.app import create_app
from tts_plugin.server.audit import AuditLog


def test_voice_changes_refusals_and_speech_sessions_are_audited(tmp_path):
    log = tmp_path / "audit.log"
    audit = AuditLog(log)
    app = create_app(ScriptedEngine(), voices_dir=tmp_path / "voices", token=TOKEN, audit_log=audit)
    audio = clip(2.0)
    try:
        with serving(app) as port:
            assert call(port, "PUT", "/v1/voices/carol", audio)[0] == 201
            assert call(port, "PUT", "/v1/voices/carol", audio)[0] == 201
            assert call(port, "PUT", "/v1/voices/dave", audio, token="wrong")[0] == 401
            assert call(port, "PUT", "/v1/voices/dave", b"not audio at all")[0] == 415
            assert call(port, "DELETE", "/v1/voices/carol")[0] == 204
            assert call(port, "DELETE", "/v1/voices/nobody")[0] == 404
            spoken = post(port, {"input": "Hello there."})
            assert spoken.status == 200 and spoken.read()
            assert post(port, {"input": ""}).status == 422
    finally:
        audit.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    seen = [(e["operation"], e.get("voice"), e["result"]) for e in lines]
    assert seen == [
        ("voice.upload", "carol", "created"),
        ("voice.upload", "carol", "replaced"),
        ("voice.upload", "dave", "401"),
        ("voice.upload", "dave", "415"),
        ("voice.delete", "carol", "deleted"),
        ("voice.delete", "nobody", "404"),
        ("speech.start", None, "ok"),
        ("speech.end", None, "done"),
        ("speech", None, "422"),
    ]
    assert all(e["client"] == "127.0.0.1" and e["request_id"] and e["time"] for e in lines)
    assert lines[7]["bytes"] > 0 and lines[6]["request_id"] == lines[7]["request_id"]
    text = log.read_text()
    assert TOKEN not in text and "wrong" not in text and "RIFF" not in text


def test_a_sane_client_request_id_is_kept_and_echoed(tmp_path):
    with serving(create_app(ScriptedEngine(), voices_dir=tmp_path)) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health", headers={"X-Request-ID": "abc-123"})
        response = connection.getresponse()
        response.read()
        assert response.getheader("X-Request-ID") == "abc-123"
        connection.request("GET", "/health", headers={"X-Request-ID": "bad id!"})
        echoed = connection.getresponse().getheader("X-Request-ID")
        assert echoed and echoed != "bad id!" and len(echoed) == 32


def test_serve_writes_audit_lines_to_stderr_at_its_default_log_level(tmp_path):
    # `serve` logs at WARNING; audit lines are INFO and were lost without --audit-log.
    port = free_port()
    stderr = tmp_path / "serve.log"
    with stderr.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "tts_plugin", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request(
                    "POST", "/v1/audio/speech", '{"input": "Hi", "speed": 9}',
                    {"Content-Type": "application/json", "X-Request-ID": "audit-me"},
                )  # fmt: skip
                assert connection.getresponse().status == 422
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, stderr.read_text()
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(10)
    lines = [json.loads(line.split(" - ", 1)[1]) for line in stderr.read_text().splitlines()
             if '"request_id": "audit-me"' in line]  # fmt: skip
    assert [(e["operation"], e["result"]) for e in lines] == [("speech", "422")]
    assert "DEBUG" not in stderr.read_text()
