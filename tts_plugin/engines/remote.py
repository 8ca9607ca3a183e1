"""`RemoteEngine`: speech from a pipecat-indextts2 TTS server over HTTP (e.g. a shared GPU box).

Blocking like every engine (the service drives it from its worker thread): one HTTP read per chunk,
`cancel` checked between reads, and a cancelled request closes its connection so the server stops
synthesising at once and frees its slot.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from tts_plugin.engine import EngineCapabilities, EngineError, SynthesisRequest

READ_BYTES = 8820  # 200 ms at 22050 Hz


class RemoteEngine:
    """Streams PCM from `POST {base_url}/v1/audio/speech`.

    Its sample rate and capabilities come from the server: call `load()` before handing the engine to
    `IndexTTS2TTSService` (the agent does), so the service sizes itself to the real engine.
    """

    name = "remote"

    def __init__(self, base_url: str, *, timeout: float = 30.0):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"remote TTS url must be http(s)://host[:port], got {base_url!r}")
        self._base_url = base_url.rstrip("/")
        self._parts = parts
        self._timeout = timeout
        self.sample_rate = 22050
        self.capabilities = EngineCapabilities(emotion_modes=frozenset({"preset"}), languages=())
        self._loaded = False

    def load(self) -> None:
        """Ask the server what its engine can do (sample rate, emotion modes, languages, voices)."""
        if self._loaded:
            return
        try:
            with urllib.request.urlopen(f"{self._base_url}/v1/engine", timeout=self._timeout) as r:
                info = json.loads(r.read())
        except (OSError, ValueError) as e:
            raise EngineError(f"remote TTS server {self._base_url} is not reachable: {e}") from e
        self.sample_rate = int(info["sample_rate"])
        self.capabilities = EngineCapabilities(
            emotion_modes=frozenset(info["emotion_modes"]),
            languages=tuple(info["languages"]),
            voices=tuple(info["voices"]),
            max_chunk_seconds=float(info.get("max_chunk_seconds", 3.0)) + 1.0,
        )
        self._loaded = True

    def healthy(self) -> bool:
        """Whether the server answers `/health` now (the agent's `/health` reports it)."""
        try:
            with urllib.request.urlopen(f"{self._base_url}/health", timeout=2) as response:
                return response.status == 200
        except (OSError, http.client.HTTPException):
            return False

    def _body(self, request: SynthesisRequest) -> dict[str, Any]:
        emotion = request.emotion
        if emotion.mode == "reference":
            raise EngineError("reference-clip emotions cannot be sent to a remote server")
        return {
            "input": request.text,
            "voice": request.voice,
            "response_format": "pcm",
            "stream": True,
            "sample_rate": self.sample_rate,
            "speed": request.speed,
            "language": request.language,
            "emotion": {k: v for k, v in emotion.to_dict().items() if k != "mode"},
        }

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[np.ndarray]:
        """Yield int16 chunks as they arrive; closing on cancel stops the server's work."""
        self.load()
        connection_class = (
            http.client.HTTPSConnection
            if self._parts.scheme == "https"
            else http.client.HTTPConnection
        )
        connection = connection_class(self._parts.hostname, self._parts.port, timeout=self._timeout)
        try:
            connection.request(
                "POST",
                f"{self._parts.path}/v1/audio/speech",
                body=json.dumps(self._body(request)),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            if response.status != 200:
                raise EngineError(_error_text(response))
            leftover = b""
            while not cancel.is_set():
                data = response.read1(READ_BYTES)
                if not data:
                    return
                data = leftover + data
                usable = len(data) - len(data) % 2
                leftover = data[usable:]
                if usable:
                    yield np.frombuffer(data[:usable], dtype=np.int16)
        except (OSError, http.client.HTTPException) as e:
            # HTTPException: the stream broke off mid-body (e.g. its replica died).
            raise EngineError(f"remote TTS server {self._base_url} failed: {e!r}") from e
        finally:
            connection.close()


def _error_text(response: http.client.HTTPResponse) -> str:
    """The server's message from its error shape (`server/errors.py`), else the HTTP reason."""
    try:
        error = json.loads(response.read() or b"{}").get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else None
    return (
        f"remote TTS server refused the request ({response.status}): {message or response.reason}"
    )
