"""IndexTTS2 behind the engine contract, speaking mid-sentence instead of a segment at a time.

Per text segment the GPT decodes semantic codes one by one (`decode.py`); every few codes (the
`ChunkSchedule`) the new codes, with a little left context, go through the semantic codec, the
length regulator, the flow-matching DiT (reference mel + the previous chunk's last frames as its
in-context prefix) and BigVGAN, and the audio is crossfaded onto what was already sent. The models
come from `indextts25-inference` (the `indextts2` extra); they are shared by all requests, so every
model call runs under one lock, and requests interleave step by step without touching each other's
state. Voice conditioning (w2v-BERT, CAMPPlus, reference mel) is computed once per clip.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from loguru import logger

from tts_plugin.emotion import Emotion
from tts_plugin.emotion_text import description_as_vector
from tts_plugin.engine import EngineCapabilities, EngineError, SynthesisRequest, check_request
from tts_plugin.engines.indextts2.chunking import ChunkSchedule, Crossfader
from tts_plugin.engines.indextts2.decode import Sampling, sample_codes
from tts_plugin.engines.indextts2.emotion_model import DIR_NAME as EMOTION_MODEL_DIR
from tts_plugin.engines.indextts2.emotion_model import EmotionModel
from tts_plugin.engines.indextts2.model_dir import detect
from tts_plugin.text_split import detect_language

DEFAULT_VOICE = "default"
SAMPLE_RATE = 22050
HOP = 256
# IndexTTS-2.5: 25 codes/s become 50 feature frames/s, stretched ×1.72 to 86 mel frames/s.
FEATURES_PER_CODE = 2
MEL_PER_FEATURE = 1.72
_VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CLIP_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
DESCRIPTION_INTENSITY = 0.6


@dataclass(frozen=True)
class Voice:
    """A reference clip's conditioning: computed once, reused by every request in that voice."""

    speaker_features: object  # w2v-BERT features (1, T, 1024)
    style: object  # CAMPPlus style (1, 192)
    prompt_condition: object  # length-regulated features of the reference (1, T_mel, C)
    reference_mel: object  # (1, 80, T_mel)


class IndexTTS2Engine:
    """IndexTTS-2.5 with sub-sentence streaming; emotion by preset, vector, clip or description."""

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
        diffusion_steps: int = 10,
        cfg_rate: float = 0.7,
        max_prompt_seconds: float = 6.0,
        schedule: ChunkSchedule | None = None,
        sampling: Sampling | None = None,
        first_segment_tokens: int = 40,
        segment_tokens: int = 120,
        segment_silence_ms: int = 120,
        text_normalization: bool = True,
        warm_up: bool = True,
    ) -> None:
        """`voice` is the default reference clip (default: `voice.wav` in the model dir);
        clips in `voices_dir` are voices named by file stem. Nothing loads until `load()`."""
        self._model = detect(model_dir)
        if self._model.generation != "2.5":
            # IndexTTS-2's code (indextts2-inference) imports torchaudio, whose last release (2.11)
            # requires torch 2.11; the project pins torch 2.13.0.
            raise EngineError(
                f"{self._model.path} holds IndexTTS-2 checkpoints, which this engine cannot run "
                "(their code needs torchaudio, which has no release for torch 2.13); use "
                "IndexTTS-2.5: https://huggingface.co/IndexTeam/IndexTTS-2.5"
            )
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
        self._bf16 = bf16
        self._diffusion_steps = diffusion_steps
        self._cfg_rate = cfg_rate
        # Every chunk's DiT runs over the reference prompt again: a long clip would cost more than
        # the chunk itself, so only its first seconds are the in-context prompt (upstream: 15 s).
        self._prompt_frames = max(1, int(max_prompt_seconds * SAMPLE_RATE / HOP))
        self._schedule = schedule or ChunkSchedule()
        self._sampling = sampling or Sampling()
        self._first_segment_tokens = first_segment_tokens
        self._segment_tokens = segment_tokens
        self._segment_silence = np.zeros(int(SAMPLE_RATE * segment_silence_ms / 1000), np.int16)
        self._text_normalization = text_normalization
        self._warm_up = warm_up
        self._tts = None
        self._emotion_model: EmotionModel | None = None
        self._voices: dict[tuple, Voice] = {}
        self._load_lock = threading.Lock()
        # Serialises every model call: one IndexTTS instance is not safe for concurrent use.
        self._model_lock = threading.RLock()
        self.capabilities = EngineCapabilities(
            emotion_modes=frozenset({"preset", "vector", "reference", "description"}),
            languages=("en", "zh", "ja", "es"),
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
            if self._tts is not None:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: every file was checked
            self._check_device()
            try:
                from indextts25.infer_v2_5 import IndexTTS2
            except ModuleNotFoundError as e:
                raise EngineError(
                    "IndexTTS-2.5 code is missing: pip install torch==2.13.0, then "
                    '"pipecat-indextts2[indextts2]" and indextts25-inference (see README)'
                ) from e
            logger.info(f"Loading {self._model.label} from {self._model.path}")
            try:
                self._tts = IndexTTS2(
                    cfg_path=str(self._model.path / "config.yaml"),
                    model_dir=str(self._model.path),
                    device=self._device,
                    use_bf16=self._bf16,
                )
            except (RuntimeError, OSError, ValueError, KeyError, EOFError) as e:
                # Corrupt or mismatched checkpoints, an unknown device: say which dir, keep it short.
                raise EngineError(
                    f"{self._model.label} in {self._model.path} does not load: "
                    f"{type(e).__name__}: {str(e)[:300]}"
                ) from e
            self._emotion_model = self._load_emotion_model()
        if self._warm_up:
            request = SynthesisRequest(text="Hello.", language="en")
            for _ in self._stream(request, threading.Event(), max_codes=8):
                pass

    def stream(self, request: SynthesisRequest, cancel: threading.Event) -> Iterator[np.ndarray]:
        """Yield int16 chunks at 22050 Hz as the codes are decoded; stop within a step of `cancel`."""
        check_request(self, request)
        return self._stream(request, cancel)

    def _stream(
        self, request: SynthesisRequest, cancel: threading.Event, max_codes: int | None = None
    ) -> Iterator[np.ndarray]:
        if self._tts is None:
            raise EngineError("the indextts2 engine is not loaded; call load() first")
        voice = self._voice(request.voice)
        conditioning = self._conditioning(voice, request.emotion)
        language = request.language or detect_language(request.text)
        sampling = self._sampling
        if max_codes is not None:
            sampling = replace(sampling, max_codes=max_codes)
        for index, tokens in enumerate(self._segments(request.text, language)):
            if cancel.is_set():
                return
            if index:
                yield self._segment_silence
            codes = sample_codes(
                self._tts.gpt, conditioning, tokens, self._language_id(language),
                sampling, cancel, lambda: self._model_call(gpt=True),
            )  # fmt: skip
            yield from self._vocode_as_decoded(codes, voice, 1.0 / request.speed, cancel)

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
                "(use device cpu, or a CUDA build of torch 2.13.0)"
            )

    def _load_emotion_model(self) -> EmotionModel | None:
        """IndexTTS2's Qwen emotion scorer if the model dir has it (else descriptions use the lexicon)."""
        directory = self._model.path / EMOTION_MODEL_DIR
        if not directory.is_dir():
            return None
        logger.info(f"Loading the emotion-from-text model {directory}")
        try:
            return EmotionModel(directory, self._tts.device)
        except (OSError, ValueError) as e:
            raise EngineError(f"the emotion model in {directory} does not load: {e}") from e

    @contextlib.contextmanager
    def _model_call(self, *, gpt: bool = False):
        """Exclusive use of the shared models, without autograd; the GPT in bf16 if asked."""
        import torch

        device, dtype = torch.device(self._tts.device).type, self._tts.dtype
        bf16 = torch.amp.autocast(device, enabled=gpt and dtype is not None, dtype=dtype)
        with self._model_lock, torch.inference_mode(), bf16:
            yield

    # ---- text -------------------------------------------------------------------------------

    def _segments(self, text: str, language: str) -> list:
        """Token tensors per segment, split at punctuation as upstream does, the first one short."""
        import torch

        tts = self._tts
        # Normalisation (numbers, dates as words) uses NeMo grammars, built once then cached.
        text = tts._prepare_text(text, language, text_normalization=self._text_normalization)
        prefix = f"<|{language}|> "
        first, *rest = tts.split_text_by_tokens(text, self._first_segment_tokens, prefix)
        pieces = [first]
        if rest:
            pieces += tts.split_text_by_tokens("".join(rest), self._segment_tokens, prefix)
        return [
            torch.IntTensor(tts.tokenizer.encode(prefix + p, allowed_special="all"))
            .unsqueeze(0)
            .to(tts.device)
            for p in pieces
            if p.strip()
        ]

    def _language_id(self, language: str):
        import torch
        from indextts25.utils.tokenizer import lang_to_token

        return torch.LongTensor([lang_to_token(language)]).to(self._tts.device)

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
                logger.debug(f"Conditioning IndexTTS2 voice {path}")
                features, style, prompt, mel = self._tts._speaker_conditioning(str(path), key)
                n = self._prompt_frames
                self._voices[key] = Voice(features, style, prompt[:, :n], mel[:, :, :n])
            return self._voices[key]

    def _conditioning(self, voice: Voice, emotion: Emotion):
        """The GPT's [speaker + emotion] latent (1, 1, d) for this voice and emotion."""
        import torch

        if emotion.mode == "description":
            emotion = self._describe(emotion)
        tts = self._tts
        with self._model_call(gpt=True):
            if emotion.mode == "reference":
                clip = str(emotion.reference_audio)
                emotion_features = tts._emotion_conditioning(
                    clip, _clip_key(emotion.reference_audio)
                )
                alpha = 1.0 if emotion.intensity is None else emotion.intensity
            else:
                emotion_features, alpha = voice.speaker_features, 1.0
            base = tts.gpt.merge_emovec(
                voice.speaker_features,
                emotion_features,
                torch.tensor([voice.speaker_features.shape[-1]], device=tts.device),
                torch.tensor([emotion_features.shape[-1]], device=tts.device),
                alpha=alpha,
            )
            weights = emotion.model_vector()
            if weights is not None and any(weights):
                base = self._mix_vector(voice, base, weights)
            return tts.gpt.spk_emb_proj(voice.style).unsqueeze(1) + base.unsqueeze(1)

    def _describe(self, emotion: Emotion) -> Emotion:
        """A description as a vector: scored by the emotion model if present, else the lexicon."""
        if self._emotion_model is None:
            return description_as_vector(emotion)
        with self._model_call():
            vector = self._emotion_model.vector(emotion.description)
        # Upstream advises emo_alpha ≈ 0.6 with text-derived emotion; an explicit intensity wins.
        intensity = DESCRIPTION_INTENSITY if emotion.intensity is None else emotion.intensity
        return Emotion(vector=vector, intensity=intensity)

    def _mix_vector(self, voice: Voice, base, weights: tuple[float, ...]):
        """IndexTTS2's emotion vector: Σ w·prototype + (1 − Σ w)·the speaker's own emotion.

        Each emotion's prototype is the one whose speaker style is nearest this voice's.
        """
        import torch
        import torch.nn.functional as F

        tts = self._tts
        w = torch.tensor(weights, device=tts.device, dtype=base.dtype)
        picks = [
            emotions[torch.argmax(F.cosine_similarity(voice.style.float(), styles.float(), dim=1))]
            for styles, emotions in zip(tts.spk_matrix, tts.emo_matrix, strict=True)
        ]
        prototypes = torch.stack(picks)
        return (w.unsqueeze(1) * prototypes).sum(0, keepdim=True) + (1 - w.sum()) * base

    # ---- codes to audio ---------------------------------------------------------------------

    def _vocode_as_decoded(
        self, codes: Iterator[int], voice: Voice, duration: float, cancel: threading.Event
    ) -> Iterator[np.ndarray]:
        """Vocode the codes chunk by chunk as `codes` yields them (see chunking.py)."""
        decoded: list[int] = []
        mel = None  # every mel frame generated so far for this segment
        joiner = Crossfader(self._schedule.crossfade_samples)
        done = 0
        sizes = self._schedule.sizes()
        target = next(sizes)
        for code in codes:
            decoded.append(code)
            if len(decoded) - done >= target:
                audio, mel = self._chunk(decoded, done, mel, voice, duration, joiner.overlap)
                done = len(decoded)
                target = next(sizes)
                if cancel.is_set():
                    return
                yield _int16(joiner.push(audio, final=False))
        if cancel.is_set():
            return
        if len(decoded) > done:
            audio, mel = self._chunk(decoded, done, mel, voice, duration, joiner.overlap)
            yield _int16(joiner.push(audio, final=True))
        elif joiner.overlap:
            yield _int16(joiner.flush())

    def _chunk(
        self, codes: list[int], start: int, mel, voice: Voice, duration: float, overlap: int
    ):
        """Audio for codes[start:] (beginning `overlap` samples early) and the extended mel."""
        import torch

        tts, schedule = self._tts, self._schedule

        def frames(n_codes: int) -> int:  # mel frames covering the first n codes
            return int(n_codes * FEATURES_PER_CODE * MEL_PER_FEATURE * duration)

        left = max(0, start - schedule.context_codes)
        with self._model_call():
            window = torch.tensor([codes[left:]], device=tts.device)
            features = tts.semantic_codec.decode(window)
            size = frames(len(codes)) - frames(left)
            cond = tts.s2mel.models["length_regulator"](
                features, ylens=torch.tensor([size], device=tts.device)
            )
            context = mel[:, :, frames(left) : frames(start)] if mel is not None else None
            prompt = (
                voice.reference_mel
                if context is None
                else torch.cat([voice.reference_mel, context], 2)
            )
            condition = torch.cat([voice.prompt_condition, cond], 1)
            generated = tts.s2mel.models["cfm"].inference(
                condition,
                torch.LongTensor([condition.size(1)]).to(tts.device),
                prompt,
                voice.style,
                None,
                self._diffusion_steps,
                inference_cfg_rate=self._cfg_rate,
            )[:, :, prompt.size(-1) :]
            mel = generated if mel is None else torch.cat([mel, generated], 2)
            first = frames(start)
            context_frames = min(schedule.vocoder_context_frames, first)
            wav = tts.bigvgan(mel[:, :, first - context_frames :].float()).reshape(-1)
            skip = max(0, context_frames * HOP - overlap)
            return wav[skip:].float().cpu().numpy(), mel


def _clip_key(path: Path) -> tuple[str, int]:
    """A clip's cache key: replacing the file (new mtime) invalidates its conditioning."""
    return str(path.resolve()), path.stat().st_mtime_ns


def _int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
