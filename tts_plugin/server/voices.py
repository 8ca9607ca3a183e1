"""Voices: list, upload a reference clip, delete. Clips live on disk and survive a restart.

Uploads need the server's bearer token (`TTS_SERVER_TOKEN`; without one, uploads are off). A clip's
type is sniffed from its bytes, never its name; size and duration are limited; names are a safe slug.
The clip is the raw request body (`PUT /v1/voices/{name}` with the audio bytes), so no multipart
parser is needed. Engines that clone voices (IndexTTS2) speak with uploaded clips; others list them.
"""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel

from tts_plugin.engine import TTSEngine
from tts_plugin.server.errors import ErrorBody

VOICE_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0
_EXTENSIONS = ("wav", "flac", "ogg", "mp3")


# Module level: FastAPI resolves these annotations from the module's globals.
VoiceName = Annotated[
    str, PathParam(pattern=VOICE_NAME, description="a-z, 0-9, _ and -; 1-40 chars")
]


class Voice(BaseModel):
    name: str
    kind: str  # "builtin" or "uploaded"
    seconds: float | None = None


class VoiceList(BaseModel):
    voices: list[Voice]


def sniff_audio(data: bytes) -> str | None:
    """The container format from the first bytes, or None if it is not audio we accept."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def audio_seconds(data: bytes) -> float | None:
    """Duration of an audio file in memory, or None if it cannot be decoded."""
    import soundfile

    try:
        return float(soundfile.info(io.BytesIO(data)).duration)
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError):
        return None


class VoiceStore:
    """Uploaded reference clips in one directory, one file per voice."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path | None:
        """The clip of the uploaded voice `name`; None if there is none or `name` is not a slug."""
        if not re.fullmatch(VOICE_NAME, name):
            return None
        return next(
            (p for ext in _EXTENSIONS if (p := self.directory / f"{name}.{ext}").is_file()), None
        )

    def list(self) -> list[Voice]:
        voices = []
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lstrip(".") in _EXTENSIONS and re.match(VOICE_NAME, path.stem):
                voices.append(
                    Voice(name=path.stem, kind="uploaded", seconds=audio_seconds(path.read_bytes()))
                )
        return voices

    def save(self, name: str, data: bytes, kind: str) -> None:
        self.delete(name)
        temporary = self.directory / f".{name}.{kind}.partial"
        temporary.write_bytes(data)
        temporary.rename(self.directory / f"{name}.{kind}")

    def delete(self, name: str) -> bool:
        path = self.path(name)
        if path:
            path.unlink()
        return path is not None


def _errors(*codes: int) -> dict[int | str, dict]:
    reasons = {
        401: "Missing or wrong bearer token",
        403: "Uploads are disabled on this server",
        404: "No such uploaded voice",
        409: "The name belongs to a built-in voice",
        413: "The clip is too large",
        415: "The body is not audio",
        422: "Bad name, or a clip too short or too long",
    }
    return {code: {"model": ErrorBody, "description": reasons[code]} for code in codes}


def voices_router(engine: TTSEngine, store: VoiceStore, token: str | None) -> APIRouter:
    router = APIRouter(tags=["voices"])

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        if not token:
            raise HTTPException(
                403, detail="voice uploads are disabled: the server has no TTS_SERVER_TOKEN"
            )
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @router.get("/v1/voices", response_model=VoiceList)
    # The path OpenAI-compatible speech servers (vLLM-Omni and others) list voices at.
    @router.get("/v1/audio/voices", response_model=VoiceList)
    async def list_voices() -> VoiceList:
        """The engine's own voices, then uploaded reference clips."""
        builtin = [Voice(name=v, kind="builtin") for v in engine.capabilities.voices]
        return VoiceList(voices=builtin + store.list())

    @router.put(
        "/v1/voices/{name}",
        status_code=201,
        response_model=Voice,
        dependencies=[Depends(authorised)],
        responses=_errors(401, 403, 409, 413, 415, 422),
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
                "required": True,
            }
        },
    )
    async def upload_voice(name: VoiceName, request: Request) -> Voice:
        """Store a reference clip (WAV, FLAC, Ogg or MP3; 1-30 s; at most 10 MiB) as `name`."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, detail=f"a voice clip is at most {MAX_UPLOAD_BYTES} bytes")
        data = bytearray()
        async for part in request.stream():
            data += part
            if len(data) > MAX_UPLOAD_BYTES:
                raise HTTPException(413, detail=f"a voice clip is at most {MAX_UPLOAD_BYTES} bytes")
        kind = sniff_audio(bytes(data[:16]))
        seconds = audio_seconds(bytes(data)) if kind else None
        if kind is None or seconds is None:
            raise HTTPException(415, detail="not an audio file (WAV, FLAC, Ogg or MP3 by content)")
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise HTTPException(
                422,
                detail=f"a voice clip lasts {MIN_SECONDS:g}-{MAX_SECONDS:g} s, got {seconds:.1f} s",
            )
        if name in engine.capabilities.voices:
            raise HTTPException(409, detail=f"{name!r} is a built-in voice")
        request.state.audit_result = "replaced" if store.path(name) else "created"
        store.save(name, bytes(data), kind)
        return Voice(name=name, kind="uploaded", seconds=seconds)

    @router.delete(
        "/v1/voices/{name}",
        status_code=204,
        dependencies=[Depends(authorised)],
        responses=_errors(401, 403, 404, 422),
    )
    async def delete_voice(name: VoiceName, request: Request) -> Response:
        """Remove an uploaded clip."""
        if not store.delete(name):
            raise HTTPException(404, detail=f"no uploaded voice {name!r}")
        request.state.audit_result = "deleted"
        return Response(status_code=204)

    @router.api_route(
        "/v1/voices/{name}",
        methods=["GET", "POST", "PATCH", "OPTIONS", "HEAD"],
        include_in_schema=False,
    )
    async def other_methods() -> Response:
        # Starlette's own 405 names only the first route's method (PUT); name both.
        raise HTTPException(405, detail="Method Not Allowed", headers={"Allow": "PUT, DELETE"})

    return router
