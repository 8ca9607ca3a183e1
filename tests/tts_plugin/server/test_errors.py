"""One error shape on the TTS server: every refusal and our own bugs, with the request id, never
echoing a long value back."""

from __future__ import annotations

import http.client
import json

import pytest
from http_serving import serving
from scripted_engine import ScriptedEngine

from tts_plugin.server.app import create_app


class BuggyEngine(ScriptedEngine):
    """Fails as a bug would (not an `EngineError`, which is the client's fault)."""

    def stream(self, request, cancel):
        raise RuntimeError("an index out of range deep in the model")


def call(port: int, method: str, path: str, body: dict | str | None = None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    connection.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def assert_error_shape(status: int, headers, payload: bytes) -> dict:
    error = json.loads(payload)["error"]
    assert set(error) == {"message", "type", "param", "request_id", "retry_after_secs"}
    assert error["message"] and error["type"].endswith("_error")
    assert error["request_id"] == headers["X-Request-ID"]
    return error


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("POST", "/v1/audio/speech", {"input": "Hi", "emotion": "grumpy"}, 400, "invalid_request"),
        ("POST", "/v1/audio/speech", {"input": "Hi", "speed": 9}, 422, "invalid_request"),
        ("POST", "/v1/audio/speech", "{not json", 422, "invalid_request"),
        ("DELETE", "/v1/voices/nobody", None, 401, "authentication"),
        ("GET", "/v1/voices/nobody", None, 405, "invalid_request"),
        ("GET", "/v1/nothing-here", None, 404, "not_found"),
        (
            "POST",
            "/v1/audio/speech/webrtc",
            {"sdp": "v=0", "type": "offer", "input": "Hi"},
            400,
            "",
        ),
    ],
)
def test_every_refusal_has_the_one_shape(method, path, body, status, kind):
    with serving(create_app(ScriptedEngine(), token="secret")) as port:
        code, headers, payload = call(port, method, path, body)
    assert code == status, payload
    assert assert_error_shape(code, headers, payload)["type"].startswith(kind)


def test_a_bug_is_a_500_with_the_request_id_and_a_logged_traceback(capfd):
    with serving(create_app(BuggyEngine())) as port:
        body = {"input": "Hello.", "stream": False}
        code, headers, payload = call(
            port, "POST", "/v1/audio/speech", body, {"X-Request-ID": "r-42"}
        )
    error = assert_error_shape(code, headers, payload)
    assert code == 500 and error["type"] == "server_error" and error["request_id"] == "r-42"
    assert "r-42" in error["message"] and "index out of range" not in error["message"]
    logged = capfd.readouterr().err
    assert "request r-42" in logged and "Traceback" in logged and "index out of range" in logged


def test_an_oversize_field_is_named_with_its_limit_and_size_never_echoed():
    huge = "x" * 1_000_000
    with serving(create_app(ScriptedEngine())) as port:
        code, headers, payload = call(
            port, "POST", "/v1/audio/speech", {"input": huge, "instructions": huge}
        )
    error = assert_error_shape(code, headers, payload)
    assert code == 422 and len(payload) < 1000, payload[:300]
    assert error["param"] == "input"
    assert "input: String should have at most" in error["message"]
    assert "received 1000000 characters" in error["message"] and "xxxxxxxx" not in error["message"]
    assert "instructions" in error["message"]


def test_the_schema_documents_the_error_shape_on_every_operation():
    with serving(create_app(ScriptedEngine())) as port:
        _, _, payload = call(port, "GET", "/openapi.json")
    schema = json.loads(payload)
    assert "ErrorBody" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status)
