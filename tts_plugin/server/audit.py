"""The TTS server's audit trail: one JSON line per operation an operator must be able to trace.

Recorded: voice uploads (created or replaced) and deletions, refused ones (bad or missing token,
uploads disabled, not audio, too big, bad duration, unknown voice), HTTP speech sessions (refused:
queue full or bad input; or started, then ended with the bytes sent or the client gone) and WebRTC
speech offers (answered or refused; the playback that follows is not traced). Each line has the time, the client's address, the operation, the voice name, the result and
a request id (the client's `X-Request-ID` if it sent a sane one, else ours, echoed back in the
response). Never the token, never the audio. Lines go to stderr with the server's log; with a path
they also go to a file, rotated at `rotation` and keeping `retention` old files.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger
from starlette.requests import Request
from starlette.responses import Response

_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_VOICE = re.compile(r"^/v1/voices/([^/]+)$")
_SPEECH = {"/v1/audio/speech": "speech", "/v1/audio/speech/webrtc": "speech.webrtc"}


def _is_audit(record) -> bool:
    return record["extra"].get("audit", False)


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
            "request_id": request.state.request_id,
            **fields,
        }
        logger.bind(audit=True).info(json.dumps(line, ensure_ascii=False))

    def close(self) -> None:
        if self._sink is not None:
            logger.remove(self._sink)
            self._sink = None

    async def middleware(self, request: Request, call_next) -> Response:
        """Give every request an id; audit voice changes and speech sessions."""
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if _ID.match(given) else uuid.uuid4().hex
        operation, voice = self._operation(request)
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        if operation is None:
            return response
        fields = {"voice": voice} if voice else {}
        if response.status_code >= 400 or operation != "speech":
            outcome = getattr(request.state, "audit_result", None) or str(response.status_code)
            self.record(request, operation, outcome, status=response.status_code, **fields)
            return response
        # An HTTP speech session lasts as long as its body streams.
        self.record(request, "speech.start", "ok", status=response.status_code)
        response.body_iterator = self._until_end(request, response.body_iterator)
        return response

    async def _until_end(self, request: Request, body):
        sent, result = 0, "client gone"
        try:
            async for chunk in body:
                sent += len(chunk)
                yield chunk
            result = "done"
        finally:
            self.record(request, "speech.end", result, bytes=sent)

    @staticmethod
    def _operation(request: Request) -> tuple[str | None, str | None]:
        path, method = request.url.path, request.method
        if (match := _VOICE.match(path)) and method in ("PUT", "DELETE"):
            return ("voice.upload" if method == "PUT" else "voice.delete"), match.group(1)[:64]
        if method == "POST" and path in _SPEECH:
            return _SPEECH[path], None
        return None, None
