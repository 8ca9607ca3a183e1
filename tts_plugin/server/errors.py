"""One JSON error shape for every answer that is not a success, on the TTS server and the agent.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "input",
               "request_id": "9f…", "retry_after_secs": null}}

OpenAI's shape (`error.message`, `.type`, `.param`), so an OpenAI client pointed at the TTS server
shows our message; plus the request id (also in the `X-Request-ID` header and the audit line) and,
on 429/503, when to retry. A validation error names the field, the rule and the size it received,
never a long received value (a megabyte `input` is not echoed back). Our own bugs are 500s with the
request id and a logged traceback, never a 4xx.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A received value is quoted back only when it is this short.
MAX_ECHO_CHARS = 80
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    request_id: str
    retry_after_secs: int | None = None


class ErrorBody(BaseModel):
    """Every error answer (OpenAI's shape, plus the request id and when to retry)."""

    error: ErrorInfo


def error_type(status: int) -> str:
    if status >= 500 and status != 503:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or "-"


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error answer for `request`; a Retry-After header is repeated in the body."""
    retry = (headers or {}).get("Retry-After")
    info = ErrorInfo(
        message=message,
        type=error_type(status),
        param=param,
        request_id=request_id(request),
        retry_after_secs=int(retry) if retry and retry.isdigit() else None,
    )
    headers = {**(headers or {}), "X-Request-ID": info.request_id}
    return JSONResponse({"error": info.model_dump()}, status_code=status, headers=headers)


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """What was wrong with a request, field by field, without echoing long values back."""
    problems, first = [], None
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        first = first or field
        problem = f"{field}: {error.get('msg', 'invalid')}"
        value = error.get("input")
        if isinstance(value, str | bytes | list | dict) and error.get("type") != "missing":
            size = len(value)
            unit = "items" if isinstance(value, list | dict) else "characters"
            if isinstance(value, str) and size <= MAX_ECHO_CHARS:
                problem += f" (received {value!r})"
            else:
                problem += f" (received {size} {unit})"
        problems.append(problem)
    return "; ".join(problems[:5]), first


class RequestIdMiddleware:
    """Gives every HTTP request an id (the client's `X-Request-ID` when well formed) and returns it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)


def install_error_handlers(app: FastAPI) -> None:
    """Every error `app` answers in the one shape, with a request id for every request."""

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, str(exc.detail), headers=exc.headers)

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(exc.errors()))
        return error_response(request, 422, message, param=param)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        logger.opt(exception=exc).error(
            f"request {rid} ({request.method} {request.url.path}) failed"
        )
        return error_response(request, 500, f"internal error; quote request id {rid}")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)
    app.add_middleware(RequestIdMiddleware)
