"""The TTS server's audit trail: one JSON line per operation an operator must be able to trace.

Recorded: voice uploads (created or replaced) and deletions, refused ones (bad or missing token,
uploads disabled, not audio, too big, bad duration, unknown voice), HTTP speech sessions (refused:
queue full or bad input; or started, then ended with the bytes sent or the client gone) and WebRTC
speech offers (answered or refused; the playback that follows is not traced). Each line has the
time, the client's address, the operation, the voice name, the result and the request id
(`errors.RequestIdMiddleware`). Never the token, never the audio. Lines go to stderr whatever the log
level (`audit_filter`); with a path they also go to a file, rotated at `rotation` and keeping
`retention` old files.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tts_plugin.server.errors import request_id
from tts_plugin.server.metrics import ServerMetrics

_VOICE = re.compile(r"^/v1/voices/([^/]+)$")
_SPEECH = {"/v1/audio/speech": "speech", "/v1/audio/speech/webrtc": "speech.webrtc"}


def _is_audit(record) -> bool:
    return record["extra"].get("audit", False)


def audit_filter(level: str):
    """A log sink filter that passes records at `level` and above, and audit lines always."""
    number = logger.level(level).no
    return lambda record: record["level"].no >= number or _is_audit(record)


class AuditLog:
    """Structured audit lines through loguru (stderr), and a rotating file when given a path."""

    def __init__(
        self, path: Path | None = None, *, rotation: str = "10 MB", retention: int = 5
    ) -> None:
        self.path = path
        self._sink = None
        if path is not None:
            self._sink = logger.add(
                path, filter=_is_audit, format="{message}", rotation=rotation, retention=retention
            )

    def record(self, request: Request, operation: str, result: str, **fields) -> None:
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "client": request.client.host if request.client else None,
            "operation": operation,
            "result": result,
            "request_id": request_id(request),
            **fields,
        }
        logger.bind(audit=True).info(json.dumps(line, ensure_ascii=False))

    def close(self) -> None:
        if self._sink is not None:
            logger.remove(self._sink)
            self._sink = None

    @staticmethod
    def _operation(request: Request) -> tuple[str | None, str | None]:
        path, method = request.url.path, request.method
        if (match := _VOICE.match(path)) and method in ("PUT", "DELETE"):
            return ("voice.upload" if method == "PUT" else "voice.delete"), match.group(1)[:64]
        if method == "POST" and path in _SPEECH:
            return _SPEECH[path], None
        return None, None


class AuditMiddleware:
    """Audits voice changes and speech sessions, and counts every audited request (`metrics.py`).

    Plain ASGI rather than Starlette's `@app.middleware("http")`: that one re-streams the body and
    ends it cleanly when the app fails mid-stream, so a client could not tell cut-off speech from
    whole speech. Here a failure propagates and the server aborts the connection.
    """

    def __init__(self, app: ASGIApp, audit: AuditLog, metrics: ServerMetrics) -> None:
        self.app = app
        self.audit = audit
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        operation, voice = self.audit._operation(request)
        status, sent, gone, complete = None, 0, False, False
        arrived = time.monotonic()

        async def watched_receive() -> Message:
            nonlocal gone
            message = await receive()
            # The server also reports a disconnect once the response is complete: not a client gone.
            gone = gone or (message["type"] == "http.disconnect" and not complete)
            return message

        async def audited_send(message: Message) -> None:
            nonlocal status, sent, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                if operation == "speech" and status < 400:
                    # An HTTP speech session lasts as long as its body streams.
                    self.audit.record(request, "speech.start", "ok", status=status)
            elif message["type"] == "http.response.body":
                if not sent and message.get("body") and operation and status < 400:
                    self.metrics.first_byte.labels(operation).observe(time.monotonic() - arrived)
                sent += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        result = "failed"
        try:
            await self.app(scope, watched_receive, audited_send)
            result = "client gone" if gone else "done"
        finally:
            if operation is not None:
                self.metrics.record(operation, status or 500, result)
            if operation == "speech" and status is not None and status < 400:
                self.audit.record(request, "speech.end", result, bytes=sent)
            elif operation is not None and status is not None:
                outcome = getattr(request.state, "audit_result", None) or str(status)
                fields = {"voice": voice} if voice else {}
                self.audit.record(request, operation, outcome, status=status, **fields)
