"""Pipecat TTS service for IndexTTS2 and the other engines behind the `TTSEngine` contract.

Each sentence Pipecat aggregates becomes one engine request. The engine runs in a single worker
thread one chunk per step, so the event loop never blocks, model access is serialised, and an
interruption sets the request's cancel flag: the engine stops within one chunk (one decode step for
IndexTTS2) instead of finishing the sentence nobody will hear.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from loguru import logger
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    AggregatedTextFrame,
    CancelFrame,
    EagerEndOfTurnCancelFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import NOT_GIVEN, NotGiven, TTSSettings, is_given
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language
from pipecat.utils.tracing.service_decorators import traced_tts

from tts_plugin.emotion import Emotion, EmotionError
from tts_plugin.emotion_tags import TAG, strip_emotion_tags
from tts_plugin.engine import (
    EngineError,
    SynthesisRequest,
    TTSEngine,
    check_request,
    check_speed,
    check_support,
)
from tts_plugin.frames import EmotionalSpeakFrame
from tts_plugin.reply_aggregator import ReplyTextAggregator
from tts_plugin.speak_ahead import SpeechHold
from tts_plugin.speakable_text import speakable
from tts_plugin.text_split import detect_language
from tts_plugin.word_timing import WordClock

EmotionInput = Emotion | str | Sequence[float] | Mapping[str, Any]
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "es": "Spanish"}
# Spoken when a reply has nothing to say after cleaning (only tags, punctuation or emoji).
NOTHING_SAID = {
    "en": "Sorry, could you say that again?",
    "zh": "抱歉，能再说一遍吗？",
    "ja": "すみません、もう一度言っていただけますか？",
    "es": "Perdón, ¿puedes repetirlo?",
}


@dataclass
class IndexTTS2TTSSettings(TTSSettings):
    """Runtime-updatable settings for `IndexTTS2TTSService`.

    Parameters:
        emotion: A preset name, 8 floats, a mapping, or an `Emotion`. Stored as an `Emotion`.
        emotion_intensity: 0..1, IndexTTS2's `emo_alpha`; applies when the emotion names none.
        speed: Speaking-rate multiplier, 0.5..2.0.
        inline_emotion: Whether `[preset]` tags in the LLM's reply set the emotion (from where
            they stand). Tags are removed from what is spoken, shown and remembered either way.
    """

    emotion: EmotionInput | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    emotion_intensity: float | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    speed: float | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    inline_emotion: bool | NotGiven = field(default_factory=lambda: NOT_GIVEN)


class IndexTTS2TTSService(TTSService):
    """Streams speech from a `TTSEngine` with a selectable emotion, and stops when interrupted.

    Audio leaves at the engine's native rate (22050 Hz for IndexTTS2 and the embedded engine) so no
    resampler sits between chunks; the output transport converts once.

    A reply with nothing to say after cleaning (only tags, punctuation or emoji) is answered with
    a short request to repeat (`NOTHING_SAID`) in the listener's language: `listener_language`
    (a language code, e.g. from the STT; None: the reply's own script) picks it when the reply has
    no letters to tell.

    Event handlers:
        on_emotion_applied(service, emotion, source): a sentence starts in an emotion other than
            the previous sentence's; `source` is "inline" (an LLM tag), "speak" (an
            `EmotionalSpeakFrame`'s own, e.g. the user's choice in a UI) or "settings".
    """

    Settings = IndexTTS2TTSSettings
    _settings: Settings

    def __init__(
        self,
        *,
        engine: TTSEngine,
        settings: Settings | None = None,
        first_clause_words: int | None = 4,
        drop_unfinished_tail: bool = False,
        **kwargs,
    ):
        """Create the service.

        Args:
            engine: The speech backend (`EmbeddedEngine`, `IndexTTS2Engine`, `RemoteEngine`, ...).
            settings: Runtime-updatable settings; unset fields take the defaults.
            first_clause_words: Speak a reply's first clause (at a comma, semicolon, colon or
                dash) once it has this many words, before its sentence ends; None waits for
                whole sentences.
            drop_unfinished_tail: Do not speak a reply's last words if they end without sentence
                punctuation after a whole sentence (an LLM cut by its token limit).
            **kwargs: Passed to `TTSService` (e.g. `sample_rate`, `text_transforms`).

        Raises:
            EmotionError, EngineError: if the settings ask for something invalid or unsupported.
            ValueError: for TOKEN text aggregation (tags split across tokens would be spoken).
        """
        default_settings = self.Settings(
            model=engine.name,
            voice=None,
            language=None,
            emotion=Emotion(preset="neutral"),
            emotion_intensity=1.0,
            speed=1.0,
            inline_emotion=True,
        )
        if settings is not None:
            default_settings.apply_update(settings)
        kwargs.setdefault("sample_rate", engine.sample_rate)
        kwargs.setdefault(
            "stop_frame_timeout_s", max(3.0, engine.capabilities.max_chunk_seconds + 1.0)
        )
        # The reply aggregator takes tags out of LLM text; this transform takes them out of
        # spoken text that skipped it (a TTSSpeakFrame), before any other transform sees them.
        # The text boundary goes last, so a sentence with nothing to say is never synthesised.
        kwargs["text_transforms"] = [
            ("*", self._take_emotion_tag),
            *(kwargs.get("text_transforms") or []),
            ("*", self._speakable),
        ]
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            # Words are timed (`word_timing.py`): each reaches transcripts and the context when
            # its audio plays, and an interruption keeps exactly the words heard.
            push_text_frames=False,
            settings=default_settings,
            **kwargs,
        )
        # Pipecat 1.14's TTSService builds its sentence aggregator itself, with no parameter to
        # pass another, so the reply aggregator replaces it here.
        self._text_aggregator = ReplyTextAggregator(
            min_words=first_clause_words,
            drop_unfinished_tail=drop_unfinished_tail,
            on_emotion=self._on_tag_emotion,
            fallback=self._nothing_said,
            aggregation_type=self._text_aggregation_mode,
            language=self._text_aggregator.language,
        )
        self._engine = engine
        self._check_settings(self._settings)
        self._settings.emotion = Emotion.parse(self._settings.emotion)
        # Without a state reset after pauses the stock resampler can drop audio mid-word
        # (pipecat #5769); it is only used when the pipeline asks for a non-native rate.
        self._resampler = create_stream_resampler(clear_after_secs=None)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{engine.name}-tts")
        self._cancel_event: threading.Event | None = None
        # An inline tag's emotion: pending until the next sentence starts, then held for its turn.
        self._pending_tag_emotion: Emotion | None = None
        self._pending_source = "inline"
        self._tag_emotion: tuple[str, Emotion, str] | None = None  # (context, emotion, source)
        self._spoken_emotion: Emotion | None = None
        self._hold = SpeechHold()
        self._reply_open = False  # an LLM reply started and was neither finished nor interrupted
        # When the audio pushed so far will have played out (monotonic s; 0: nothing queued):
        # each request tells the engine how much its listener still has to hear.
        self._playout_until = 0.0
        self._context_seconds: dict[str, float] = {}  # audio spoken so far in each context
        self.listener_language: str | None = None
        self._register_event_handler("on_emotion_applied")

    @property
    def engine(self) -> TTSEngine:
        """The backend this service drives."""
        return self._engine

    def can_generate_metrics(self) -> bool:
        """TTFB, processing and usage metrics are supported."""
        return True

    def language_to_service_language(self, language: Language) -> str | None:
        """Map a Pipecat language to the engine's base code (`en`, `zh`, ...)."""
        return str(language.value).split("-")[0].lower()

    def effective_emotion(self, context_id: str | None = None) -> Emotion:
        """The emotion the next sentence of `context_id` is spoken with."""
        if self._tag_emotion and self._tag_emotion[0] == context_id:
            emotion = self._tag_emotion[1]
        else:
            emotion = Emotion.parse(self._settings.emotion)
        if emotion.intensity is None:
            emotion = emotion.with_intensity(self._settings.emotion_intensity)
        return emotion

    async def start(self, frame: StartFrame):
        """Load the engine's models in the worker thread before the first sentence."""
        await super().start(frame)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._engine.load)
        except EngineError as e:
            await self.push_error(f"{self} could not load its engine: {e}", exception=e)

    async def cancel(self, frame: CancelFrame):
        """Stop the engine at its next step: a cancelled pipeline hears nothing more."""
        if self._cancel_event:
            self._cancel_event.set()
        await super().cancel(frame)

    async def cleanup(self):
        """Stop any synthesis still running and release the worker thread."""
        await super().cleanup()
        if self._cancel_event:
            self._cancel_event.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def set_emotion(self, emotion: EmotionInput, intensity: float | None = None) -> Emotion:
        """Apply an emotion from the next sentence on, and return the effective one.

        For callers outside the frame flow (a UI message): unlike a `TTSUpdateSettingsFrame`, it does
        not wait behind queued text. Raises `EmotionError`/`EngineError` and changes nothing on bad input.
        """
        delta = self.Settings(emotion=Emotion.parse(emotion))
        if intensity is not None:
            delta.emotion_intensity = intensity
        self._validate_delta(delta)
        await self._update_settings(delta)
        return self.effective_emotion()

    async def set_inline_emotion(self, allowed: bool) -> None:
        """Allow or forbid LLM `[emotion]` tags from the next sentence on (tags are removed either way)."""
        await self._update_settings(self.Settings(inline_emotion=bool(allowed)))

    @property
    def inline_emotion_allowed(self) -> bool:
        """Whether LLM `[emotion]` tags currently set the emotion."""
        return bool(self._settings.inline_emotion)

    async def _update_settings(self, delta: Settings) -> dict[str, Any]:
        """Validate a delta as a whole and apply it, or reject it with an `ErrorFrame`.

        A rejected delta changes nothing, so a bad update never leaves the service half-configured.
        """
        try:
            self._validate_delta(delta)
        except (EmotionError, EngineError) as e:
            await self.push_error(f"{self} rejected settings update: {e}", exception=e)
            return {}
        if is_given(delta.emotion):
            delta.emotion = Emotion.parse(delta.emotion)
        elif is_given(delta.emotion_intensity):
            # A bare intensity change applies to the current emotion whatever it said before.
            delta.emotion = Emotion.parse(self._settings.emotion).with_intensity(None)
        # Every field is read per request, so a change applies from the next sentence on.
        changed = await super()._update_settings(delta)
        if changed:
            logger.debug(f"{self}: emotion now {self.effective_emotion().label()}")
        return changed

    def _validate_delta(self, delta: Settings) -> None:
        candidate = self._settings.copy()
        candidate.apply_update(delta)
        if is_given(delta.language) and isinstance(delta.language, (str, Language)):
            candidate.language = self._service_language(delta.language)
        self._check_settings(candidate)

    def _check_settings(self, settings: Settings) -> None:
        emotion = Emotion.parse(settings.emotion)
        intensity = settings.emotion_intensity
        emotion.with_intensity(intensity)  # validates the range
        check_speed(settings.speed)
        check_support(self._engine, emotion, settings.voice, settings.language)

    def _on_tag_emotion(self, emotion: Emotion) -> None:
        """A known tag in the reply: its emotion from the next piece on, if tags may choose."""
        if self._settings.inline_emotion:
            self._pending_tag_emotion = emotion

    def _nothing_said(self, said: str) -> str | None:
        """What to say when a reply ended with nothing to say, in the listener's language.

        The language is the service's, else the reply's script if it has letters, else the
        language the listener last spoke (`listener_language`, set by the agent), else English.
        """
        if not self._reply_open:
            return None
        self._reply_open = False
        language = self._settings.language or (
            detect_language(said) if speakable(said) else self.listener_language
        )
        if language not in NOTHING_SAID or language not in self._engine.capabilities.languages:
            language = "en"
        logger.warning(
            f"{self}: the reply had nothing to say ({said[:60]!r}); "
            f"asking the user to repeat ({language})"
        )
        return NOTHING_SAID[language]

    def _unspeakable_reply(self) -> str | None:
        """What to say instead of a reply in a language the engine lacks (the listener's, when
        the service speaks no fixed language), in a language it has; None: the reply."""
        heard, languages = self.listener_language, self._engine.capabilities.languages
        if self._settings.language or not heard or heard in languages:
            return None
        names = [LANGUAGE_NAMES.get(code, code) for code in languages]
        spoken = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        logger.warning(
            f"{self}: the listener spoke {heard!r}, which {self._engine.name} cannot speak"
        )
        return f"Sorry, I can only speak {spoken}."

    def _reply_language(self, text: str) -> str | None:
        """The language to speak `text` in: the service's; the script's where it tells (Chinese,
        Japanese); else the listener's, if the engine has it (Spanish on IndexTTS-2.5); else the
        engine's choice (None)."""
        if self._settings.language:
            return self._settings.language
        languages, script = self._engine.capabilities.languages, detect_language(text)
        if script != "en":
            return script if script in languages else None
        heard = self.listener_language
        return heard if heard in languages else None

    async def _take_emotion_tag(self, text: str, text_type: str) -> str:
        """Text transform: remove tags from text that did not pass the reply aggregator (a
        `TTSSpeakFrame`); the last known one sets this utterance's emotion."""
        tagged = strip_emotion_tags(text)
        if tagged.emotion is not None:
            self._on_tag_emotion(tagged.emotion)
        return tagged.text

    async def _speakable(self, text: str, text_type: str) -> str:
        """Text transform: hostile characters removed (`speakable_text.py`); nothing, when nothing
        is left to say (an LLM reply of only emoji), which Pipecat then skips."""
        if (cleaned := speakable(text)) is not None:
            return cleaned
        logger.info(f"{self}: nothing to say in {text[:60]!r}; skipped")
        return ""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Handle frames; an `EmotionalSpeakFrame` carries its emotion to its own utterance.

        A reply the LLM marks speculative (`tts_plugin.speak_ahead`) is synthesised at once and
        held until the user's turn ends; withdrawn, its synthesis stops within one chunk.
        """
        if isinstance(frame, EmotionalSpeakFrame) and frame.emotion is not None:
            # The base speaks the frame before it returns, so no other sentence takes this.
            self._pending_tag_emotion, self._pending_source = frame.emotion, "speak"
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._reply_open = not frame.skip_tts
            self._text_aggregator.answer_instead(self._unspeakable_reply())
            await self._push_gated(self._hold.begin(frame))
        elif isinstance(frame, InterruptionFrame):
            self._drop_reply()
        elif isinstance(frame, EagerEndOfTurnCancelFrame):
            self._drop_reply()  # the LLM stops the speculative reply: no answer, no fallback
            if self._hold.holding:
                await self._withdraw_speculative_reply()
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseEndFrame):
            self._reply_open = False  # its end flushed the aggregator, which asked `_nothing_said`

    def _drop_reply(self) -> None:
        """The reply is cut: nothing of it needs a fallback, and its queued audio is dropped."""
        self._reply_open = False
        self._playout_until = 0.0

    async def _withdraw_speculative_reply(self) -> None:
        logger.debug(f"{self}: speculative reply withdrawn; stopping its synthesis")
        self._drop_reply()
        # Its text still queued here, then its sentences in synthesis and their audio contexts
        # (`on_audio_context_interrupted` sets the engine's cancel flag), as an interruption would.
        await self._start_interruption()
        await self._handle_interruption(InterruptionFrame(), FrameDirection.DOWNSTREAM)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM):
        """Push a frame, with emotion tags removed from text that transcripts and context show."""
        if isinstance(frame, AggregatedTextFrame) and TAG.search(frame.text):
            frame.text = strip_emotion_tags(frame.text).text
        await self._push_gated(self._hold.process(frame, direction))

    async def _push_gated(self, frames: list[tuple[Frame, FrameDirection]]) -> None:
        for frame, direction in frames:
            await super().push_frame(frame, direction)

    def _emotion_for(self, context_id: str) -> Emotion:
        if self._pending_tag_emotion is not None:
            self._tag_emotion = (context_id, self._pending_tag_emotion, self._pending_source)
            self._pending_tag_emotion, self._pending_source = None, "inline"
        return self.effective_emotion(context_id)

    async def on_turn_context_completed(self):
        """Forget inline emotion tags at the end of a reply: the next one starts from settings."""
        await super().on_turn_context_completed()
        self._pending_tag_emotion = None

    async def on_audio_context_interrupted(self, context_id: str):
        """Stop the engine at its next chunk/step and forget the interrupted reply's tags."""
        await super().on_audio_context_interrupted(context_id)
        if self._cancel_event:
            self._cancel_event.set()
        self._pending_tag_emotion = None
        self._tag_emotion = None
        self._context_seconds.pop(context_id, None)

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize one sentence, yielding audio as the engine produces it.

        Args:
            text: The sentence, with any emotion tag already removed.
            context_id: The audio context (one per reply) this sentence belongs to.

        Yields:
            Frame: `TTSAudioRawFrame`s at the engine's rate, or an `ErrorFrame`.
        """
        try:
            request = SynthesisRequest(
                text=text,
                emotion=self._emotion_for(context_id),
                voice=self._settings.voice,
                language=self._reply_language(text),
                speed=self._settings.speed,
                ahead_seconds=max(0.0, self._playout_until - time.monotonic()),
            )
            check_request(self._engine, request)
        except (EngineError, EmotionError) as e:
            yield ErrorFrame(error=f"{self}: {e}")
            return

        if request.emotion != self._spoken_emotion:
            self._spoken_emotion = request.emotion
            tagged = self._tag_emotion and self._tag_emotion[0] == context_id
            source = self._tag_emotion[2] if tagged else "settings"
            await self._call_event_handler("on_emotion_applied", request.emotion, source)

        cancel = threading.Event()
        self._cancel_event = cancel
        reported: list[tuple[str, float]] = []  # filled from the worker thread, drained here
        request = replace(request, on_words=reported.extend)
        language = request.language or detect_language(request.text)
        clock = WordClock(request.text, language)
        offset, produced = self._context_seconds.get(context_id, 0.0), 0.0
        engine_times = False  # the engine reports its words: the clock stays out
        chunks = self._engine.stream(request, cancel)
        logger.debug(
            f"{self}: speaking with emotion {request.emotion.label()}, "
            f"language {request.language or 'the engine’s choice'}"
        )
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                self._pcm(chunks),
                in_sample_rate=self._engine.sample_rate,
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                if isinstance(frame, TTSAudioRawFrame):
                    seconds = len(frame.audio) / 2 / frame.sample_rate
                    self._playout_until = max(self._playout_until, time.monotonic()) + seconds
                    produced += seconds
                    self._context_seconds[context_id] = offset + produced
                yield frame
                engine_times = engine_times or bool(reported)
                timed = _drain(reported) if engine_times else clock.advance(produced)
                await self._add_words(timed, offset, context_id, language)
            rest = _drain(reported) if engine_times else clock.finish(produced)
            await self._add_words(rest, offset, context_id, language)
        except asyncio.CancelledError:
            cancel.set()
            raise
        except EngineError as e:
            yield ErrorFrame(error=f"{self}: {e}")
        except Exception as e:
            logger.exception(f"{self} synthesis failed")
            yield ErrorFrame(error=f"{self} synthesis failed: {e}")
        finally:
            cancel.set()
            # Runs after any chunk still in the worker, which sees `cancel` and stops.
            self._executor.submit(chunks.close)
            await self.stop_ttfb_metrics()

    async def _add_words(
        self, timed: list[tuple[str, float]], offset: float, context_id: str, language: str
    ) -> None:
        """Hand Pipecat the words of a sentence that starts `offset` s into its context's audio
        (Chinese characters carry their own spacing: none)."""
        if timed:
            await self.add_word_timestamps(
                [(word, offset + start) for word, start in timed],
                context_id,
                includes_inter_frame_spaces=language == "zh",
            )

    async def on_audio_context_completed(self, context_id: str):
        """Forget how much audio a finished context had."""
        await super().on_audio_context_completed(context_id)
        self._context_seconds.pop(context_id, None)

    async def _pcm(self, chunks: Iterator[np.ndarray]) -> AsyncIterator[bytes]:
        """Drive the engine one chunk per worker-thread step."""
        loop = asyncio.get_running_loop()
        while (chunk := await loop.run_in_executor(self._executor, next, chunks, None)) is not None:
            if chunk.dtype != np.int16:
                raise EngineError(f"engine {self._engine.name} yielded {chunk.dtype}, not int16")
            yield chunk.tobytes()


def _drain(items: list) -> list:
    """Take everything in `items` (another thread appends to it)."""
    taken = items[: len(items)]
    del items[: len(taken)]
    return taken
