"""RTVI client messages that steer the bot's voice: `set-emotion`, `speak`, `get-emotion`.

A client sends `{"label": "rtvi-ai", "type": "client-message", "id": ..., "data": {"t": TYPE, "d": {...}}}`
(`sendClientMessage(TYPE, {...})` in Pipecat's JS SDK) and gets a `server-response` with the same id,
or an `error-response` naming what was wrong. Whenever a sentence starts in a new emotion (chosen by
the user or by an LLM tag) the client also gets a server message `{"type": "emotion", ...}`.

- `set-emotion` `{"preset": "sad", "intensity": 0.6}`, `{"vector": [8 floats], "intensity": ...}`,
  `{"description": "..."}` or `{"reference": "clip-name"}` (a voice clip the engine has, IndexTTS2),
  and/or `{"allow_llm": false}` (whether LLM tags may choose): applies from the next sentence; the
  response carries the active emotion.
- `speak` `{"text": "...", "emotion": "happy", "intensity": 0.8}`: interrupts the bot and says
  exactly that text (the emotion, in any form `set-emotion` takes, applies to that utterance only).
- `get-emotion` `{}`: the active emotion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frameworks.rtvi import RTVIProcessor

from tts_plugin.emotion import Emotion, EmotionError
from tts_plugin.engine import MAX_TEXT_CHARS, EngineError, check_support
from tts_plugin.frames import EmotionalSpeakFrame
from tts_plugin.service import IndexTTS2TTSService
from tts_plugin.speakable_text import speakable


class MessageError(ValueError):
    """A client message that cannot be served; the text goes back in the error response."""


class EmotionControl:
    """Serves the emotion messages of one session."""

    def __init__(self, worker: PipelineWorker, tts: IndexTTS2TTSService):
        self._worker = worker
        self._rtvi: RTVIProcessor = worker.rtvi
        self._tts = tts
        self._handlers = {
            "set-emotion": self._set_emotion,
            "speak": self._speak,
            "get-emotion": self._get_emotion,
        }
        self._rtvi.event_handler("on_client_message")(self._on_client_message)
        tts.event_handler("on_emotion_applied")(self._on_emotion_applied)

    async def _on_client_message(self, rtvi: RTVIProcessor, message: Any) -> None:
        handler = self._handlers.get(message.type)
        if handler is None:
            await rtvi.send_error_response(
                message,
                f"unknown message type {message.type!r}; known: {', '.join(self._handlers)}",
            )
            return
        data = message.data if message.data is not None else {}
        try:
            if not isinstance(data, dict):
                raise MessageError(f"{message.type} takes an object, got {type(data).__name__}")
            reply = await handler(data)
        except (MessageError, EmotionError, EngineError) as e:
            logger.info(f"Rejected {message.type}: {e}")
            await rtvi.send_error_response(message, str(e))
            return
        await rtvi.send_server_response(message, reply)

    async def _set_emotion(self, data: dict[str, Any]) -> dict[str, Any]:
        allow_llm = data.get("allow_llm")
        fields = {k: v for k, v in data.items() if k not in ("intensity", "allow_llm")}
        if not fields and allow_llm is None:
            raise MessageError("set-emotion needs a preset, vector, description, or allow_llm")
        if allow_llm is not None and not isinstance(allow_llm, bool):
            raise MessageError("allow_llm is true or false")
        if fields:
            emotion = Emotion.parse(fields, clips=self._clip)
            await self._tts.set_emotion(emotion.with_intensity(None), data.get("intensity"))
        if allow_llm is not None:
            await self._tts.set_inline_emotion(allow_llm)
        return await self._get_emotion({})

    async def _speak(self, data: dict[str, Any]) -> dict[str, Any]:
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise MessageError("speak needs non-empty text")
        if len(text) > MAX_TEXT_CHARS:
            raise MessageError(f"speak text is {len(text)} characters; at most {MAX_TEXT_CHARS}")
        text = speakable(text)
        if text is None:
            raise MessageError("speak text has nothing to say (no letters or digits once cleaned)")
        emotion = None
        if data.get("emotion") is not None:
            emotion = Emotion.parse(data["emotion"], clips=self._clip)
            if data.get("intensity") is not None:
                emotion = emotion.with_intensity(data["intensity"])
            check_support(self._tts.engine, emotion, None, None)
        await self._rtvi.interrupt_bot()
        await self._worker.queue_frame(
            EmotionalSpeakFrame(text, append_to_context=False, emotion=emotion)
        )
        return {"queued": True, "characters": len(text)}

    def _clip(self, name: str) -> Path | None:
        """A reference clip named by the client: one of the engine's voice clips (IndexTTS2), never
        a path on this machine; engines without clips have none."""
        lookup = getattr(self._tts.engine, "voice_clip", None)
        return lookup(name) if lookup else None

    async def _get_emotion(self, data: dict[str, Any]) -> dict[str, Any]:
        active = self._tts.effective_emotion()
        return {
            "emotion": active.to_dict(),
            "label": active.label(),
            "allow_llm": self._tts.inline_emotion_allowed,
        }

    async def _on_emotion_applied(self, tts, emotion: Emotion, source: str) -> None:
        await self._rtvi.send_server_message(
            {
                "type": "emotion",
                "source": source,
                "emotion": emotion.to_dict(),
                "label": emotion.label(),
            }
        )
