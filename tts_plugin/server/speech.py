"""`POST /v1/audio/speech`: OpenAI's speech API, streamed as the engine produces audio.

`response_format` is OpenAI's set, default `mp3` as OpenAI's: `mp3`, `opus` (Ogg), `aac` (ADTS), `flac`,
`wav` (PCM with a streaming header) or `pcm` (s16le mono), each encoded chunk by chunk
(`encoders.py`). With `stream` (the default) bytes go out as they are encoded, with chunked transfer, so
a client hears the first clause while the rest is synthesised; a client that goes away cancels its job.
`stream_format: "sse"` sends OpenAI's events instead: `speech.audio.delta` with base64 audio of the
chosen format, then `speech.audio.done`.
`instructions` (gpt-4o-mini-tts's way to ask for a tone) become the emotion description mode (IndexTTS2's
emotion model, else the lexicon; its first 200 characters); an explicit `emotion` wins over them.
Extras over OpenAI's fields: `emotion`, `emotion_intensity`, `language`, `sample_rate`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import soxr
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from tts_plugin.emotion import MAX_DESCRIPTION_CHARS, ClipLookup, Emotion, EmotionError
from tts_plugin.engine import (
    MAX_TEXT_CHARS,
    EngineError,
    SynthesisRequest,
    TTSEngine,
    check_request,
)
from tts_plugin.server.encoders import FORMATS, ResponseFormat, StreamEncoder, encoded_rate
from tts_plugin.server.errors import ErrorBody
from tts_plugin.server.jobs import JobQueue, QueueFull, Ticket
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
    response_format: ResponseFormat = "mp3"
    speed: float = Field(1.0, ge=0.5, le=2.0)
    stream: bool = True
    stream_format: Literal["audio", "sse"] = Field(
        "audio", description="audio: the encoded bytes; sse: OpenAI's speech.audio.* events"
    )
    instructions: str | None = Field(
        None,
        max_length=4096,
        description="The tone in words ('Speak in a cheerful tone'); an explicit emotion wins.",
    )
    emotion: str | list[float] | dict[str, Any] | None = Field(
        None, description="A preset name ('sad', 'sad:0.5'), 8 floats, or an emotion object."
    )
    emotion_intensity: float | None = Field(None, ge=0.0, le=1.0)
    language: str | None = Field(None, min_length=2, max_length=10)
    sample_rate: Literal[8000, 16000, 22050, 24000, 44100, 48000] | None = Field(
        24000,
        description="Output rate (24000 as OpenAI's; null: the engine's). Opus takes 8-48 kHz "
        "rates only, else 48000. X-Sample-Rate says the rate sent.",
    )


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
    if body.emotion is None and body.instructions and body.instructions.strip():
        emotion = Emotion(description=body.instructions.strip()[:MAX_DESCRIPTION_CHARS])
    else:
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
) -> tuple[SynthesisRequest, Ticket]:
    """The engine request for `body` and its place in the queue, taken before any byte of the
    answer; or the HTTP error to answer instead (400, or 429 when full)."""
    try:
        request = to_synthesis_request(engine, body, clips)
    except (EmotionError, EngineError) as e:
        raise HTTPException(400, detail=str(e)) from None
    try:
        return request, jobs.reserve()
    except QueueFull as e:
        raise busy(e) from None


class HeldStreamingResponse(StreamingResponse):
    """A streamed answer that gives its queue place back however the stream ends, even one whose
    client left before its first byte (its body generator then never starts)."""

    def __init__(self, content: AsyncIterator[bytes], ticket: Ticket, **kwargs):
        super().__init__(content, **kwargs)
        self._ticket = ticket

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ticket.close()


def speech_router(
    engine: TTSEngine, jobs: JobQueue, executor: ThreadPoolExecutor, clips: ClipLookup
) -> APIRouter:
    router = APIRouter(tags=["speech"])

    async def pcm_chunks(request: SynthesisRequest, ticket: Ticket) -> AsyncIterator[np.ndarray]:
        """Hold a job slot while the engine runs."""
        async with ticket:
            async for chunk in synthesize(engine, request, executor):
                yield chunk

    @router.post(
        "/v1/audio/speech",
        response_class=Response,
        responses={
            200: {
                "content": {f.media_type: {} for f in FORMATS.values()} | {"text/event-stream": {}},
                "description": "Speech, or its events with stream_format sse",
            },
            400: {"model": ErrorBody, "description": "Unusable emotion, voice or language"},
            429: {"model": ErrorBody, "description": "Busy: retry after Retry-After seconds"},
        },
    )
    async def create_speech(body: SpeechRequest, http_request: Request) -> Response:
        """Synthesise `input`; audio streams as it is encoded."""
        request, ticket = admit(engine, jobs, body, clips)
        rate = encoded_rate(body.response_format, body.sample_rate or engine.sample_rate)

        async def encoded() -> AsyncIterator[bytes]:
            encoder = StreamEncoder(body.response_format, rate)
            # One stateful resampler per stream, so chunk joins stay seamless.
            resampler = (
                None
                if rate == engine.sample_rate
                else soxr.ResampleStream(engine.sample_rate, rate, 1, dtype="int16")
            )
            try:
                async for chunk in pcm_chunks(request, ticket):
                    pcm = resampler.resample_chunk(chunk) if resampler else chunk
                    if data := encoder.encode(pcm):
                        yield data
                if resampler:
                    yield encoder.encode(resampler.resample_chunk(np.zeros(0, np.int16), last=True))
                yield encoder.finish()
            finally:
                encoder.close()

        media = FORMATS[body.response_format].media_type
        stream = encoded()
        if body.stream_format == "sse":
            media, stream = "text/event-stream", sse_events(stream, body.input)
        headers = {"X-Sample-Rate": str(rate)}
        if body.stream:
            return HeldStreamingResponse(stream, ticket, media_type=media, headers=headers)
        try:
            audio = b"".join([chunk async for chunk in stream])
        finally:
            ticket.close()
        logger.debug(f"Synthesised {len(audio)} bytes for {len(body.input)} characters")
        return Response(audio, media_type=media, headers=headers)

    return router


async def sse_events(audio: AsyncIterator[bytes], text: str) -> AsyncIterator[bytes]:
    """OpenAI's speech stream events; usage counts characters (there are no tokens here)."""
    async for data in audio:
        if data:
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
            yield f"data: {json.dumps(event)}\n\n".encode()
    usage = {"input_tokens": len(text), "output_tokens": 0, "total_tokens": len(text)}
    yield f"data: {json.dumps({'type': 'speech.audio.done', 'usage': usage})}\n\n".encode()
