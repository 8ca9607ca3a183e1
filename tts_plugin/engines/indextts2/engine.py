"""IndexTTS2 behind the engine contract, speaking mid-sentence instead of a segment at a time.

Runs IndexTTS-2 and IndexTTS-2.5 checkpoints (the dir says which; `generation.py` is what differs).
Per text segment the GPT decodes semantic codes one by one (`decode.py`); every few codes (the
`ChunkSchedule`, in seconds of audio) the new codes, with a little left context, become s2mel
features, go through the length regulator, the flow-matching DiT (reference mel + the previous
chunk's last frames as its in-context prefix) and BigVGAN, and the audio is crossfaded onto what
was already sent. The models are shared by all requests: every model call runs under one lock,
the stream nearest a gap in its audio first (`deadlines.py`), and concurrent requests share each
decode step (`step_batch.py`) without touching each other's state. Voice conditioning
(w2v-BERT, CAMPPlus, reference mel, the GPT's speaker latents) is computed once per clip.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from loguru import logger

from tts_plugin.emotion import Emotion
from tts_plugin.emotion_text import description_as_vector
from tts_plugin.engine import EngineCapabilities, EngineError, SynthesisRequest, check_request
from tts_plugin.engine_factory import DIFFUSION_STEPS, VOICE_CACHE
from tts_plugin.engines.indextts2.chunking import ChunkSchedule, ChunkSizes, Crossfader
from tts_plugin.engines.indextts2.code_budget import code_budget
from tts_plugin.engines.indextts2.deadlines import DeadlineLock, Key, StreamClock, now_key
from tts_plugin.engines.indextts2.decode import Sampling, request_generator, sample_codes
from tts_plugin.engines.indextts2.emotion_model import DIR_NAME as EMOTION_MODEL_DIR
from tts_plugin.engines.indextts2.emotion_model import EmotionModel, scaled
from tts_plugin.engines.indextts2.generation import Generation, Voice
from tts_plugin.engines.indextts2.model_dir import detect
from tts_plugin.engines.indextts2.step_batch import StepBatcher
from tts_plugin.text_split import detect_language

DEFAULT_VOICE = "default"
SAMPLE_RATE = 22050
HOP = 256
_VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CLIP_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
DESCRIPTION_INTENSITY = 0.6
EMOTION_VECTORS = 64  # cached (voice, emotion clip, alpha) vectors; the oldest goes first


class IndexTTS2Engine:
    """IndexTTS-2 / 2.5 with sub-sentence streaming; emotion by preset, vector, clip or description."""

    name = "indextts2"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model_dir: Path | str,
        *,
        voice: Path | str | None = None,
        voices_dir: Path | str | None = None,
        device: str | None = None,
        bf16: bool = False,
        fp16: bool = False,
        cuda_graphs: bool = True,
        max_batch: int = 8,
        diffusion_steps: int = DIFFUSION_STEPS,
        cfg_rate: float = 0.7,
        max_prompt_seconds: float = 6.0,
        schedule: ChunkSchedule | None = None,
        sampling: Sampling | None = None,
        first_segment_tokens: int = 40,
        segment_tokens: int = 120,
        segment_silence_ms: int = 120,
        text_normalization: bool = True,
        voice_cache: int = VOICE_CACHE,
        warm_up: bool = True,
    ) -> None:
        """`voice` is the default reference clip (default: `voice.wav` in the model dir);
        clips in `voices_dir` are voices named by file stem. The GPT runs in bf16 (IndexTTS-2.5)
        or fp16 (IndexTTS-2) on a GPU when asked; on CUDA each request's decode step is captured
        as a CUDA graph unless `cuda_graphs` is off. Up to `max_batch` concurrent requests share
        each decode step. The conditioning of `voice_cache` voices stays in memory (the least
        recently used goes first; a replaced clip is a new voice). Nothing loads until `load()`."""
        self._model = detect(model_dir)
        self._default_voice = Path(voice or self._model.path / "voice.wav").expanduser()
        if not self._default_voice.is_file():
            raise EngineError(
                f"reference voice clip not found: {self._default_voice} "
                "(IndexTTS2 clones a voice from a 3-15 s clip: pass voice=PATH)"
            )
        self._voices_dir = Path(voices_dir).expanduser() if voices_dir else None
        if not 1 <= diffusion_steps <= 100:
            raise EngineError(f"diffusion_steps must be in 1..100, got {diffusion_steps}")
        self._device = device
        self._half = bf16 if self._model.generation == "2.5" else fp16
        self._cuda_graphs = cuda_graphs
        self._diffusion_steps = diffusion_steps
        self._cfg_rate = cfg_rate
        # Every chunk's DiT runs over the reference prompt again: a long clip would cost more than
        # the chunk itself, so only its first seconds are the in-context prompt (upstream: 15 s).
        self._prompt_frames = max(1, int(max_prompt_seconds * SAMPLE_RATE / HOP))
        self._schedule = schedule or ChunkSchedule()
        self._codes_per_second = 25 if self._model.generation == "2.5" else 50
        self._sampling = sampling or Sampling()
        self._first_segment_tokens = first_segment_tokens
        self._segment_tokens = segment_tokens
        self._segment_silence = np.zeros(int(SAMPLE_RATE * segment_silence_ms / 1000), np.int16)
        self._text_normalization = text_normalization
        self._warm_up = warm_up
        self._models: Generation | None = None
        self._emotion_model: EmotionModel | None = None
        if voice_cache < 1:
            raise EngineError(f"voice_cache must be at least 1, got {voice_cache}")
        self._voice_cache = voice_cache
        self._voices: OrderedDict[tuple, Voice] = OrderedDict()
        self._emotion_vectors: dict[tuple, object] = {}  # (voice, emotion source, alpha) → vector
        self._load_lock = threading.Lock()
        # Serialises every model call (one IndexTTS instance is not safe for concurrent use), the
        # stream closest to a gap in its audio first; decode steps are shared by every request.
        self._model_lock = DeadlineLock()
        self._max_batch = max_batch
        self._steps = StepBatcher(lambda key: self._model_call(gpt=True, key=key), max_batch)
        self.capabilities = EngineCapabilities(
            emotion_modes=frozenset({"preset", "vector", "reference", "description"}),
            languages=("en", "zh", "ja", "es") if self._model.generation == "2.5" else ("en", "zh"),
            # Clips in voices_dir are resolved by name at request time (uploads appear at once).
            voices=(DEFAULT_VOICE,),
            voice_cloning=True,
            max_chunk_seconds=8.0,
        )

    @property
    def generation(self) -> str:
        return self._model.label

    def load(self) -> None:
        """Build the models from the local dir (offline), then synthesise a few codes to warm up."""
        with self._load_lock:
            if self._models is not None:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: every file was checked
            self._check_device()
            logger.info(f"Loading {self._model.label} from {self._model.path}")
            try:
                self._models = self._build_models()
            except (RuntimeError, OSError, ValueError, KeyError, EOFError) as e:
                # Corrupt or mismatched checkpoints, an unknown device: say which dir, keep it short.
                raise EngineError(
                    f"{self._model.label} in {self._model.path} does not load: "
                    f"{type(e).__name__}: {str(e)[:300]}"
                ) from e
            self._emotion_model = self._load_emotion_model()
            if self._text_normalization:
                self._models.load_text_normalizer()
        if self._warm_up:
            request = SynthesisRequest(text="Hello.", language="en")
            for _ in self._stream(request, threading.Event(), max_codes=8):
                pass
        if self._models.cuda_graphs:
            # Once, after the warm-up, before any request: never while other work runs.
            with self._model_call(gpt=True):
                self._models.pool.capture()
            logger.info(
                f"Captured the decode step's CUDA graphs for up to {self._max_batch} requests"
            )

    def _build_models(self) -> Generation:
        try:
            if self._model.generation == "2.5":
                from tts_plugin.engines.indextts2.v25_models import IndexTTS25Models as Models
            else:
                from tts_plugin.engines.indextts2.v2_models import IndexTTS2Models as Models
        except ModuleNotFoundError as e:
            raise EngineError(
                f"IndexTTS model code is missing ({e.name}): pip install torch first, then "
                '"pipecat-indextts2[indextts2]" (see README)'
            ) from e
        # Each slot holds a segment's prefix (its conditioning, at most 64 positions, and its
        # text) and its codes.
        positions = 64 + self._segment_tokens + self._sampling.max_codes
        return Models(
            self._model, self._device, self._half, self._cuda_graphs, self._max_batch, positions
        )

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[np.ndarray]:
        """Yield int16 chunks at 22050 Hz as the codes are decoded; stop within a step of `cancel`."""
        check_request(self, request)
        return self._stream(request, cancel)

    def _stream(
        self, request: SynthesisRequest, cancel: threading.Event, max_codes: int | None = None
    ) -> Iterator[np.ndarray]:
        models = self._models
        if models is None:
            raise EngineError("the indextts2 engine is not loaded; call load() first")
        voice = self._voice(request.voice)
        emotion = self._emotion(voice, request.emotion)
        language = request.language or detect_language(request.text)
        sampling = self._sampling
        if max_codes is not None:
            sampling = replace(sampling, max_codes=max_codes)
        sizes = ChunkSizes(self._schedule, self._codes_per_second)
        clock = StreamClock(request.ahead_seconds)
        generator = request_generator(sampling.seed, models.device)
        for index, tokens in enumerate(self._segments(request.text, language)):
            if cancel.is_set():
                return
            if index:
                clock.sent(len(self._segment_silence) / SAMPLE_RATE)
                yield self._segment_silence
            budget = code_budget(
                tokens.size(1), language, self._codes_per_second, sampling.max_codes
            )
            label = None if max_codes else f"segment {index + 1} of {request.text[:60]!r}"
            cache = models.pool.acquire()  # outside the model: it may wait for a slot
            codes = None
            try:
                with self._model_call(gpt=True):
                    decoder = models.decoder(voice, emotion, tokens, language, budget, cache)
                codes = sample_codes(
                    decoder, models.stop_code, models.codebook_size, sampling, cancel,
                    self._steps, clock, generator, label,
                )  # fmt: skip
                for audio in self._vocode_as_decoded(
                    codes, decoder, voice, 1.0 / request.speed, cancel, sizes, clock, generator
                ):
                    clock.sent(len(audio) / SAMPLE_RATE)
                    yield audio
            finally:
                if codes is not None:
                    codes.close()  # leaves the decode batches
                with self._model_call():
                    cache.release()

    def _check_device(self) -> None:
        """Refuse a device this machine's torch cannot use, before any model is built on it."""
        import torch

        if self._device is None:
            return
        try:
            device = torch.device(self._device)
        except RuntimeError as e:
            raise EngineError(f"unknown device {self._device!r}: {e}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise EngineError(
                f"device {self._device!r} is not available: this torch has no usable CUDA "
                "(use device cpu, or a CUDA build of torch)"
            )

    def _load_emotion_model(self) -> EmotionModel | None:
        """IndexTTS2's Qwen emotion scorer if the model dir has it (else descriptions use the lexicon)."""
        directory = self._model.path / EMOTION_MODEL_DIR
        if not directory.is_dir():
            return None
        logger.info(f"Loading the emotion-from-text model {directory}")
        try:
            return EmotionModel(directory, self._models.device)
        except (OSError, ValueError) as e:
            raise EngineError(f"the emotion model in {directory} does not load: {e}") from e

    @contextlib.contextmanager
    def _model_call(self, *, gpt: bool = False, key: Key | None = None):
        """Exclusive use of the shared models (the most urgent `key` first, see deadlines.py),
        without autograd; the GPT in half precision if asked."""
        import torch

        from tts_plugin.engines.indextts2.precision import gpt_autocast

        models = self._models
        half = gpt_autocast(models.device, models.dtype if gpt else None)
        with self._model_lock.hold(key or now_key()), torch.inference_mode(), half:
            yield

    # ---- text -------------------------------------------------------------------------------

    def _segments(self, text: str, language: str) -> list:
        """Token tensors per segment, split at punctuation as upstream does, the first one short."""
        return self._models.segments(
            text, language, self._first_segment_tokens, self._segment_tokens,
            self._text_normalization,
        )  # fmt: skip

    # ---- voices and emotion -----------------------------------------------------------------

    def _clip_names(self) -> list[str]:
        if not self._voices_dir or not self._voices_dir.is_dir():
            return []
        return sorted(
            p.stem
            for p in self._voices_dir.iterdir()
            if p.suffix.lower() in _CLIP_SUFFIXES and _VOICE_NAME.match(p.stem)
        )

    def voice_clip(self, name: str) -> Path | None:
        """The clip of voice `name` (the default voice or a clip in `voices_dir`), or None."""
        try:
            return self._clip(name)
        except EngineError:
            return None

    def _clip(self, name: str | None) -> Path:
        if not name or name == DEFAULT_VOICE:
            return self._default_voice
        if self._voices_dir and _VOICE_NAME.match(name):
            for suffix in _CLIP_SUFFIXES:
                if (path := self._voices_dir / f"{name}{suffix}").is_file():
                    return path
        raise EngineError(
            f"unknown voice {name!r} for the indextts2 engine; voices: "
            f"{', '.join([DEFAULT_VOICE, *self._clip_names()])}"
        )

    def _voice(self, name: str | None) -> Voice:
        """The conditioning of a voice's clip, cached by path and modification time."""
        path = self._clip(name)
        key = _clip_key(path)
        with self._model_call():
            if key not in self._voices:
                logger.debug(f"Conditioning {self._model.label} voice {path}")
                voice = self._models.voice(path, key)
                n = self._prompt_frames
                self._voices[key] = replace(
                    voice,
                    key=key,
                    prompt_condition=voice.prompt_condition[:, :n],
                    reference_mel=voice.reference_mel[:, :, :n],
                )
                while len(self._voices) > self._voice_cache:
                    self._voices.popitem(last=False)
            self._voices.move_to_end(key)
            return self._voices[key]

    def _emotion(self, voice: Voice, emotion: Emotion):
        """The GPT's emotion vector (1, d) for this voice and emotion, as upstream mixes it: the
        voice's own emotion, blended toward a reference clip, or mixed with the vector's
        prototypes."""
        weights = self._described(emotion) if emotion.mode == "description" else None
        models = self._models
        features, alpha, source = voice.own_emotion, 1.0, "own"
        if emotion.mode == "reference":
            clip = emotion.reference_audio
            source = _clip_key(clip)
            with self._model_call():  # w2v-BERT in full precision, as upstream runs it
                features = models.emotion_features(clip, source)
            alpha = 1.0 if emotion.intensity is None else emotion.intensity
        with self._model_call(gpt=True):
            # Two Conformer passes (most of a lone request's start-up at real size): once per
            # voice, emotion source and alpha, not once per request.
            key = (voice.key, source, alpha)
            if key not in self._emotion_vectors:
                self._emotion_vectors[key] = models.emotion_vector(voice, features, alpha)
                while len(self._emotion_vectors) > EMOTION_VECTORS:
                    self._emotion_vectors.pop(next(iter(self._emotion_vectors)))
            base = self._emotion_vectors[key]
            if weights is None:
                weights = emotion.model_vector()
            if weights is not None and any(weights):
                base = self._mix_vector(voice, base, weights)
            return base

    def _described(self, emotion: Emotion) -> tuple[float, ...] | None:
        """A description's emotion weights: IndexTTS2's Qwen scores × alpha as upstream uses
        them when the model is present (its own lock, not the speech models'), else the lexicon's
        vector normalised as every vector is."""
        if self._emotion_model is None:
            return description_as_vector(emotion).model_vector()
        # Upstream advises emo_alpha ≈ 0.6 with text-derived emotion; an explicit intensity wins.
        alpha = DESCRIPTION_INTENSITY if emotion.intensity is None else emotion.intensity
        return scaled(self._emotion_model.scores(emotion.description), alpha)

    def _mix_vector(self, voice: Voice, base, weights: tuple[float, ...]):
        """IndexTTS2's emotion vector: Σ w·prototype + (1 − Σ w)·the speaker's own emotion.

        Each emotion's prototype is the one whose speaker style is nearest this voice's.
        """
        import torch
        import torch.nn.functional as F

        models = self._models
        w = torch.tensor(weights, device=models.device, dtype=base.dtype)
        picks = [
            emotions[torch.argmax(F.cosine_similarity(voice.style.float(), styles.float(), dim=1))]
            for styles, emotions in zip(models.spk_matrix, models.emo_matrix, strict=True)
        ]
        prototypes = torch.stack(picks)
        mixed = (w.unsqueeze(1) * prototypes).sum(0, keepdim=True) + (1 - w.sum()) * base
        return mixed.to(base.dtype)  # the prototypes are fp32: keep the GPT's precision

    # ---- codes to audio ---------------------------------------------------------------------

    def _vocode_as_decoded(
        self,
        codes: Iterator[int],
        decoder,
        voice: Voice,
        duration: float,
        cancel: threading.Event,
        sizes: ChunkSizes,
        clock: StreamClock,
        generator,
    ) -> Iterator[np.ndarray]:
        """Vocode the codes chunk by chunk as `codes` yields them (see chunking.py): a chunk of
        `sizes.target` codes once `lookahead` more are decoded, the last one when decoding ends."""
        decoded: list[int] = []
        mel = None  # the mel frames of every code spoken so far in this segment
        joiner = Crossfader(self._schedule.crossfade_samples)
        lookahead = self._schedule.codes(self._schedule.lookahead_seconds, self._codes_per_second)
        done = 0

        def chunk(stop: int, final: bool) -> np.ndarray:
            nonlocal mel
            audio, mel = self._chunk(
                decoder, decoded, done, stop, mel, voice, duration, joiner.overlap, clock.key(),
                generator,
            )  # fmt: skip
            return _int16(joiner.push(audio, final=final))

        for code in codes:
            decoded.append(code)
            if len(decoded) - done >= sizes.target + lookahead:
                stop = len(decoded) - lookahead
                audio = chunk(stop, final=False)
                done = stop
                sizes.advance()
                if cancel.is_set():
                    return
                yield audio
        if cancel.is_set():
            return
        if len(decoded) > done:
            yield chunk(len(decoded), final=True)
        elif joiner.overlap:
            yield _int16(joiner.flush())

    def _chunk(
        self,
        decoder,
        codes: list[int],
        start: int,
        stop: int,
        mel,
        voice: Voice,
        duration: float,
        overlap: int,
        key: Key,
        generator,
    ):
        """Audio for codes[start:stop] (beginning `overlap` samples early) and the mel extended
        to `stop`; the codes after `stop` are its right context.

        The deterministic stages compute what the whole segment's would, as far as the codes
        decoded so far allow: the semantic features and the length regulator run over all of them
        (the regulator's GroupNorm normalises over every frame it is given, so a window would
        scale each chunk by its own statistics), BigVGAN over the receptive field on both sides.
        The DiT cannot: its attention spans the whole segment, so each chunk is generated from the
        reference and the previous chunk's last frames (`context_seconds`) as its prefix.
        """
        import torch

        models, schedule = self._models, self._schedule
        per_code = models.mel_frames_per_code * duration

        def frames(n_codes: int) -> int:  # mel frames covering the first n codes
            return int(n_codes * per_code)

        context_codes = schedule.codes(schedule.context_seconds, self._codes_per_second)
        left = max(0, start - context_codes)
        # The DiT's starting noise comes from the global generator: seeded from this request's
        # own, under the lock, so a request's audio does not depend on who else is speaking.
        noise_seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        with self._model_call(key=key):
            torch.manual_seed(noise_seed)
            cond = self.regulated(decoder, codes, per_code)[:, frames(left) :]
            context = mel[:, :, frames(left) : frames(start)] if mel is not None else None
            prompt = (
                voice.reference_mel
                if context is None
                else torch.cat([voice.reference_mel, context], 2)
            )
            condition = torch.cat([voice.prompt_condition, cond], 1)
            generated = models.s2mel.models["cfm"].inference(
                condition,
                torch.LongTensor([condition.size(1)]).to(models.device),
                prompt,
                voice.style,
                None,
                self._diffusion_steps,
                inference_cfg_rate=self._cfg_rate,
            )[:, :, prompt.size(-1) :]
            kept = frames(stop) - frames(start)
            spoken = generated[:, :, :kept]
            mel = spoken if mel is None else torch.cat([mel, spoken], 2)
            # The frames past `stop` are the vocoder's right context; the next chunk speaks them.
            wav = self.vocode(mel, frames(start), generated[:, :, kept:], overlap)
            return wav.float().cpu().numpy(), mel

    def vocode(self, mel, first: int, ahead, overlap: int):
        """Audio of `mel`'s frames from `first` on, beginning `overlap` samples early, with the
        vocoder's receptive field of left context from `mel` and `ahead` (1, 80, n) on the right."""
        import torch

        context_frames = min(self._schedule.vocoder_context_frames, first)
        frames = torch.cat([mel[:, :, first - context_frames :], ahead], 2)
        wav = self._models.bigvgan(frames.float()).reshape(-1)
        skip = max(0, context_frames * HOP - overlap)
        return wav[skip : len(wav) - ahead.size(2) * HOP]

    def regulated(self, decoder, codes: list[int], per_code: float):
        """The length regulator's output (1, frames, C) for all `codes`: what s2mel conditions on.

        Upstream's regulator stretches a segment's features to its frame count by nearest-neighbour
        interpolation, so which code a frame takes depends on the segment's length (its ratio is
        n / int(1.72 n)), and a chunk's frames sit at the end of the codes decoded so far, where
        that ratio drifts most: on IndexTTS-2, whose features change from one code to the next,
        a frame would take its neighbour's code. Here frame j takes the code at j / (frames per
        code), the ratio of every long segment, so a frame keeps its code as decoding goes on.
        """
        import torch

        regulator = self._models.s2mel.models["length_regulator"]
        features = regulator.content_in_proj(self._models.code_features(decoder, codes))
        size = int(len(codes) * per_code)
        rows_per_frame = features.size(1) / len(codes) / per_code
        rows = (torch.arange(size, device=features.device) * rows_per_frame).long()
        stretched = features[:, rows.clamp(max=features.size(1) - 1)]
        return regulator.model(stretched.transpose(1, 2)).transpose(1, 2)


def _clip_key(path: Path) -> tuple[str, int]:
    """A clip's cache key: replacing the file (new mtime) invalidates its conditioning."""
    return str(path.resolve()), path.stat().st_mtime_ns


def _int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
