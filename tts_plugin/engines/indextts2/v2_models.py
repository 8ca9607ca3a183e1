"""IndexTTS-2 behind the `Generation` contract: our v2 model code on torch alone.

Loads a v2 dir as upstream leaves it (config.yaml, gpt.pth, s2mel.pth, bpe.model, the emotion
matrices, w2v-BERT statistics, auxiliary models in either hf_cache layout) and runs upstream's v2
inference maths: the reference is resampled to 16 kHz for w2v-BERT and CAMPPlus, quantised by the
semantic codec for s2mel's prompt, and its w2v-BERT features condition the GPT; generated codes
are embedded by the codec and added to the GPT latents through s2mel's `gpt_layer`. The parts v2
shares with 2.5 (w2v-BERT, CAMPPlus, the DiT and length regulator, BigVGAN, the Conformer and
Perceiver blocks) are `indextts25-inference`'s, loaded strictly from v2's files.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import torch
from indextts25.s2mel.modules.audio import mel_spectrogram
from indextts25.s2mel.modules.bigvgan.bigvgan import BigVGAN
from indextts25.s2mel.modules.campplus.DTDNN import CAMPPlus
from indextts25.s2mel.modules.commons import MyModel
from indextts25.utils.checkpoint import fold_weight_norm
from indextts25.utils.common import kaldi_fbank, resample
from loguru import logger
from omegaconf import OmegaConf
from safetensors import safe_open
from torch import nn
from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

from tts_plugin.engine import EngineError
from tts_plugin.engines.indextts2.bpe_text import BpeText
from tts_plugin.engines.indextts2.checkpoint import WRAPPER, load_weights, unwrapped
from tts_plugin.engines.indextts2.generation import Voice
from tts_plugin.engines.indextts2.model_dir import ModelDir
from tts_plugin.engines.indextts2.precision import gpt_autocast
from tts_plugin.engines.indextts2.semantic_codec import SemanticCodec
from tts_plugin.engines.indextts2.static_kv import KVPool, PooledCache
from tts_plugin.engines.indextts2.text_normalizer import TextNormalizer
from tts_plugin.engines.indextts2.unified_voice import CodeDecoder, UnifiedVoiceV2

SAMPLE_RATE = 22050
W2V_LAYER = 17  # IndexTTS reads w2v-BERT's hidden state after layer 17
MAX_CLIP_SECONDS = 15  # upstream cuts reference clips here
# v2: 50 codes/s stretched ×1.72 to 86 mel frames/s.
MEL_FRAMES_PER_CODE = 1.72
EMOTION_CLIPS = 8  # emotion reference clips whose features stay cached
# Prefixes before w2v-BERT's own weight names: a DDP wrapper's, or a task model's base prefix.
_W2V_PREFIXES = (WRAPPER, "wav2vec2_bert.")


def gpt_layer(gpt_width: int) -> nn.Sequential:
    """s2mel's projection of GPT latents onto the semantic features (v2 only)."""
    return nn.Sequential(nn.Linear(gpt_width, 256), nn.Linear(256, 128), nn.Linear(128, 1024))


class IndexTTS2Models:
    """Every IndexTTS-2 model on one device (blocking, offline)."""

    mel_frames_per_code = MEL_FRAMES_PER_CODE
    languages = ("en", "zh")

    def __init__(
        self,
        model: ModelDir,
        device: str | None,
        half: bool,
        cuda_graphs: bool,
        slots: int = 1,
        positions: int = 2048,
    ) -> None:
        self.label = model.label
        self.device = device or ("cuda:0" if torch.cuda.is_available() else "cpu")
        on_gpu = torch.device(self.device).type == "cuda"
        # Upstream converts the GPT (with its conditioning encoders) to fp16 and runs it under
        # fp16 autocast; asked for half precision, so do we, on any device.
        self.dtype = torch.float16 if half else None
        self.cuda_graphs = cuda_graphs and on_gpu
        root, aux = model.path, model.aux
        cfg = OmegaConf.load(root / "config.yaml")
        self.stop_code = int(cfg.gpt.stop_mel_token)
        self.codebook_size = int(cfg.semantic_codec.codebook_size)

        with torch.device(self.device):
            self.gpt = UnifiedVoiceV2(**OmegaConf.to_container(cfg.gpt))
        gpt_path = root / cfg.gpt_checkpoint
        load_weights(self.gpt, _checkpoint(gpt_path, "model"), gpt_path, "the GPT")
        self.gpt.eval()
        if half:
            self.gpt.half()
        self.pool = KVPool(self.gpt.gpt, slots, 2, positions, self.dtype)

        self._features = SeamlessM4TFeatureExtractor.from_pretrained(
            aux["w2v_bert"], local_files_only=True
        )
        self._w2v = _w2v_bert(aux["w2v_bert"], self.device)
        stats = torch.load(root / cfg.w2v_stat, map_location=self.device)
        self._w2v_mean, self._w2v_std = stats["mean"], torch.sqrt(stats["var"])

        with torch.device(self.device):
            self.codec = SemanticCodec(**OmegaConf.to_container(cfg.semantic_codec))
        self.codec.load(aux["semantic_codec"], self.device)
        self.codec.eval()

        with torch.device(self.device):
            self.s2mel = MyModel(cfg.s2mel)
            self.s2mel.models["gpt_layer"] = gpt_layer(int(cfg.gpt.model_dim))
        s2mel_path = root / cfg.s2mel_checkpoint
        net = {unwrapped(k): v for k, v in _checkpoint(s2mel_path, "net").items()}
        for name, module in self.s2mel.models.items():
            if name not in net:
                raise EngineError(f"{s2mel_path} has no {name} (it holds {', '.join(net)})")
            load_weights(module, fold_weight_norm(net[name], self.device), s2mel_path, name)
        self.s2mel.models["cfm"].estimator.setup_caches(max_batch_size=1, max_seq_length=8192)
        self.s2mel.eval()

        with torch.device(self.device):
            self.campplus = CAMPPlus(feat_dim=80, embedding_size=192)
        self.campplus.load_state_dict(torch.load(aux["campplus"], map_location=self.device))
        self.campplus.eval()
        self.bigvgan = BigVGAN.from_dir(str(aux["bigvgan"]), self.device).eval()

        self.text = BpeText(root / cfg.dataset["bpe_model"])
        self._normalizer = TextNormalizer(root / "glossary.yaml")
        self._emotion_clips: dict[tuple, torch.Tensor] = {}
        sizes = list(cfg.emo_num)
        self.emo_matrix = torch.split(
            torch.load(root / cfg.emo_matrix, map_location=self.device), sizes
        )
        self.spk_matrix = torch.split(
            torch.load(root / cfg.spk_matrix, map_location=self.device), sizes
        )
        spect = cfg.s2mel.preprocess_params.spect_params
        self._mel_args = {
            "n_fft": spect.n_fft,
            "win_size": spect.win_length,
            "hop_size": spect.hop_length,
            "num_mels": spect.n_mels,
            "sampling_rate": cfg.s2mel.preprocess_params.sr,
            "fmin": spect.get("fmin", 0),
            "fmax": None if spect.get("fmax", "None") == "None" else 8000,
            "center": False,
        }

    # ---- text -------------------------------------------------------------------------------

    def load_text_normalizer(self) -> bool:
        return self._normalizer.load()

    def segments(self, text: str, language: str, first: int, rest: int, normalize: bool) -> list:
        if normalize:
            text = self._normalizer.normalize(text, language)
        segments = [ids for ids in self.text.segments(text, rest, first) if ids]
        if any(self.text.unknown_id in ids for ids in segments):
            # As upstream: say so, and speak the rest (the model hears an unknown token there).
            logger.warning(f"IndexTTS-2's vocabulary lacks some characters of {text[:80]!r}")
        return [torch.tensor([ids], dtype=torch.int32, device=self.device) for ids in segments]

    # ---- conditioning -----------------------------------------------------------------------

    def w2v_features(self, audio_16k: torch.Tensor) -> torch.Tensor:
        """Normalised w2v-BERT layer-17 features (1, T, 1024) of 16 kHz audio (1, n)."""
        inputs = self._features(audio_16k, sampling_rate=16000, return_tensors="pt")
        out = self._w2v(
            input_features=inputs["input_features"].to(self.device),
            attention_mask=inputs["attention_mask"].to(self.device),
            output_hidden_states=True,
        )
        return (out.hidden_states[W2V_LAYER] - self._w2v_mean) / self._w2v_std

    def voice(self, clip: Path, key: tuple) -> Voice:
        audio = _load(clip, SAMPLE_RATE)
        audio_16k = resample(audio, SAMPLE_RATE, 16000)
        features = self.w2v_features(audio_16k)
        _, quantized = self.codec.quantize(features)
        mel = mel_spectrogram(audio.to(self.device), **self._mel_args)
        fbank = kaldi_fbank(audio_16k.to(self.device), num_mel_bins=80, sample_frequency=16000)
        style = self.campplus((fbank - fbank.mean(dim=0, keepdim=True)).unsqueeze(0))
        prompt = self.s2mel.models["length_regulator"](
            quantized, ylens=torch.tensor([mel.size(2)], device=self.device)
        )
        return Voice(
            speaker_features=features,
            own_emotion=self.emotion_features(clip, key),
            style=style,
            gpt_speaker=self._speaker(features),
            prompt_condition=prompt,
            reference_mel=mel,
        )

    def _speaker(self, features: torch.Tensor) -> torch.Tensor:
        """The GPT's speaker latents, computed as the GPT computes (its precision)."""
        with gpt_autocast(self.device, self.dtype):
            return self.gpt.speaker_latents(features)

    def emotion_features(self, clip: Path, key: tuple) -> torch.Tensor:
        """Cached by the clip's key (path, mtime); the oldest of `EMOTION_CLIPS` goes first."""
        if key not in self._emotion_clips:
            self._emotion_clips[key] = self.w2v_features(_load(clip, 16000))
            while len(self._emotion_clips) > EMOTION_CLIPS:
                self._emotion_clips.pop(next(iter(self._emotion_clips)))
        return self._emotion_clips[key]

    def emotion_vector(self, voice: Voice, emotion_features, alpha: float) -> torch.Tensor:
        base = self.gpt.emotion_vector(voice.speaker_features)
        return base + alpha * (self.gpt.emotion_vector(emotion_features) - base)

    # ---- decoding ---------------------------------------------------------------------------

    def decoder(
        self,
        voice: Voice,
        emotion,
        tokens,
        language: str,
        max_codes: int,
        cache: PooledCache | None = None,
    ) -> CodeDecoder:
        conditioning = self.gpt.conditioning(voice.gpt_speaker, emotion)
        cache = cache or self.pool.acquire()
        return CodeDecoder(self.gpt, conditioning, tokens, max_codes=max_codes, cache=cache)

    def code_features(self, decoder: CodeDecoder, codes: list[int]) -> torch.Tensor:
        ids = torch.tensor([codes], device=self.device)
        latents = torch.cat(decoder.latents[: len(codes)], 1)
        layer = self.s2mel.models["gpt_layer"]
        return self.codec.embed(ids) + layer(latents.to(layer[0].weight.dtype))


def _checkpoint(path: Path, section: str) -> dict:
    data = torch.load(path, map_location="cpu", mmap=True)
    return data.get(section, data)


def _w2v_bert(directory: Path, device: str) -> Wav2Vec2BertModel:
    """w2v-BERT up to layer 17 (the rest is never read) from its safetensors: only the weights it
    uses are read, under their own names or with the prefixes a saved wrapper adds."""
    config = Wav2Vec2BertConfig.from_pretrained(directory, num_hidden_layers=W2V_LAYER)
    with torch.device(device):
        model = Wav2Vec2BertModel(config)
    wanted = model.state_dict().keys()
    path = directory / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        names = {unwrapped(k, _W2V_PREFIXES): k for k in f.keys()}  # noqa: SIM118
        weights = {k: f.get_tensor(names[k]) for k in wanted if k in names}
    load_weights(model, weights, path, "w2v-BERT")
    return model.eval()


def _load(clip: Path, rate: int) -> torch.Tensor:
    """A clip as mono float (1, n) at `rate`, cut to 15 s, as upstream loads references."""
    audio, _ = librosa.load(str(clip), sr=rate)
    return torch.from_numpy(audio[: MAX_CLIP_SECONDS * rate]).unsqueeze(0)
