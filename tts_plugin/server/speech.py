"""`POST /v1/audio/speech`: OpenAI's speech API, streamed as the engine produces audio.

`response_format` is `pcm` (s16le mono at the engine's rate, as OpenAI's) or `wav` (the same with a
streaming header). With `stream` (the default) bytes go out chunk by chunk with chunked transfer, so a
client hears the first clause while the rest is synthesised; a client that goes away cancels its job.
Extras over OpenAI's fields: `emotion`, `emotion_intensity`, `language`.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import soxr
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from tts_plugin.emotion import ClipLookup, Emotion, EmotionError
from tts_plugin.engine import (
    MAX_TEXT_CHARS,
    EngineError,
    SynthesisRequest,
    TTSEngine,
    check_request,
)
from tts_plugin.server.jobs import JobQueue, QueueFull
from tts_plugin.server.synthesis import synthesize


class SpeechRequest(BaseModel):
    """OpenAI's speech request, plus emotion and language."""

    # No silent coercion ("0.5" or true for a number): a request is what the schema says or a 422.
    model_config = ConfigDict(strict=True)

    model: str = Field("indextts2", max_length=100, description="Accepted for compatibility.")
    input: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Text to speak.")
    voice: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="A voice the engine has; OpenAI names map to the default.",
    )
    response_format: Literal["pcm", "wav"] = "pcm"
    speed: float = Field(1.0, ge=0.5, le=2.0)
    stream: bool = True
    emotion: str | list[float] | dict[str, Any] | None = Field(
        None, description="A preset name ('sad', 'sad:0.5'), 8 floats, or an emotion object."
    )
    emotion_intensity: float | None = Field(None, ge=0.0, le=1.0)
    language: str | None = Field(None, min_length=2, max_length=10)
    sample_rate: Literal[8000, 16000, 22050, 24000, 44100, 48000] | None = Field(
        24000,
        description="Output rate. 24000 matches OpenAI's pcm; null sends the engine's native rate.",
    )


class ErrorBody(BaseModel):
    """Every error answer: what was wrong, in words (or FastAPI's list of field errors)."""

    detail: str | list[dict[str, Any]]


# OpenAI's voice names: clients send them by default, and they should just work.
OPENAI_VOICES = {
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
}


def wav_header(sample_rate: int) -> bytes:
    """A WAV header for a stream of unknown length (sizes set to the maximum, as streamers do)."""
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


def busy(error: QueueFull) -> HTTPException:
    """The 429 a full queue answers, with when to retry."""
    return HTTPException(
        429, detail=str(error), headers={"Retry-After": str(error.retry_after_secs)}
    )


def to_synthesis_request(
    engine: TTSEngine, body: SpeechRequest, clips: ClipLookup
) -> SynthesisRequest:
    """Validate a speech request against the engine; `EmotionError`/`EngineError` on bad input."""
    voice = None if body.voice in OPENAI_VOICES else body.voice
    emotion = Emotion.parse(body.emotion, clips=clips)
    if body.emotion_intensity is not None:
        emotion = emotion.with_intensity(body.emotion_intensity)
    request = SynthesisRequest(
        text=body.input, emotion=emotion, voice=voice, language=body.language, speed=body.speed
    )
    check_request(engine, request)
    return request


def admit(
    engine: TTSEngine, jobs: JobQueue, body: SpeechRequest, clips: ClipLookup
) -> SynthesisRequest:
    """The engine request for `body`, or the HTTP error to answer instead (400, or 429 when full)."""
    try:
        request = to_synthesis_request(engine, body, clips)
    except (EmotionError, EngineError) as e:
        raise HTTPException(400, detail=str(e)) from None
    if jobs.full:
        raise busy(QueueFull(jobs.retry_after_secs))
    return request


def speech_router(
    engine: TTSEngine, jobs: JobQueue, executor: ThreadPoolExecutor, clips: ClipLookup
) -> APIRouter:
    router = APIRouter(tags=["speech"])

    async def pcm_chunks(request: SynthesisRequest) -> AsyncIterator[bytes]:
        """Hold a job slot while the engine runs."""
        async with jobs.slot():
            async for chunk in synthesize(engine, request, executor):
                yield chunk.tobytes()

    @router.post(
        "/v1/audio/speech",
        response_class=Response,
        responses={
            200: {"content": {"audio/pcm": {}, "audio/wav": {}}, "description": "Speech"},
            400: {"model": ErrorBody, "description": "Unusable emotion, voice or language"},
            429: {"model": ErrorBody, "description": "Busy: retry after Retry-After seconds"},
        },
    )
    async def create_speech(body: SpeechRequest, http_request: Request) -> Response:
        """Synthesise `input`; audio streams as it is produced."""
        request = admit(engine, jobs, body, clips)
        media = "audio/wav" if body.response_format == "wav" else "audio/pcm"
        rate = body.sample_rate or engine.sample_rate
        header = wav_header(rate) if body.response_format == "wav" else b""

        async def body_stream() -> AsyncIterator[bytes]:
            if header:
                yield header
            if rate == engine.sample_rate:
                async for chunk in pcm_chunks(request):
                    yield chunk
                return
            # One stateful resampler per stream, so chunk joins stay seamless.
            resampler = soxr.ResampleStream(engine.sample_rate, rate, 1, dtype="int16")
            async for chunk in pcm_chunks(request):
                yield resampler.resample_chunk(np.frombuffer(chunk, dtype=np.int16)).tobytes()
            yield resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True).tobytes()

        headers = {"X-Sample-Rate": str(rate)}
        if body.stream:
            return StreamingResponse(body_stream(), media_type=media, headers=headers)
        try:
            audio = b"".join([chunk async for chunk in body_stream()])
        except QueueFull as e:
            raise busy(e) from None
        logger.debug(f"Synthesised {len(audio)} bytes for {len(body.input)} characters")
        return Response(audio, media_type=media, headers=headers)

    return router
