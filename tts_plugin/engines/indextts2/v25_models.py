"""IndexTTS-2.5 behind the `Generation` contract, on `indextts25-inference`'s model code.

2.5 conditions its GPT on one CAMPPlus projection plus the emotion vector, tokenises with tiktoken
and a language embedding, and decodes 25 codes per second that its own codec turns into 50 Hz
features for s2mel. `indextts25` reads auxiliary models from the flat `hf_cache/` layout only (and
downloads otherwise), so a dir in the hub-cache layout is handed to it as a flat view of links.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from indextts25.infer_v2_5 import IndexTTS2
from indextts25.utils.tokenizer import lang_to_token
from loguru import logger

from tts_plugin.engine import EngineError
from tts_plugin.engines.indextts2.generation import Voice
from tts_plugin.engines.indextts2.model_dir import ModelDir
from tts_plugin.engines.indextts2.precision import gpt_autocast
from tts_plugin.engines.indextts2.static_kv import KVPool, PooledCache
from tts_plugin.engines.indextts2.text_normalizer import MISSING

# 25 codes/s → 50 feature frames/s, stretched ×1.72 to 86 mel frames/s.
MEL_FRAMES_PER_CODE = 2 * 1.72


class IndexTTS25Models:
    """Loads `indextts25`'s IndexTTS2 from a checked dir (blocking, offline)."""

    mel_frames_per_code = MEL_FRAMES_PER_CODE
    languages = ("en", "zh", "ja", "es")

    def __init__(
        self,
        model: ModelDir,
        device: str | None,
        bf16: bool,
        cuda_graphs: bool,
        slots: int = 1,
        positions: int = 2048,
    ) -> None:
        self.label = model.label
        self._view = _flat_view(model)
        root = Path(self._view.name) if self._view else model.path
        self._tts = IndexTTS2(
            cfg_path=str(root / "config.yaml"), model_dir=str(root), device=device, use_bf16=bf16
        )
        tts = self._tts
        self.device, self.dtype = tts.device, tts.dtype
        if bf16 and self.dtype is None:
            # indextts25 keeps the GPT in fp32 on a CPU; asked for bf16, run it as on a GPU.
            tts.gpt.bfloat16()
            self.dtype = torch.bfloat16
        self.pool = KVPool(tts.gpt.inference_model.transformer, slots, 1, positions, self.dtype)
        self.cuda_graphs = cuda_graphs and torch.device(self.device).type == "cuda"
        self.stop_code = tts.gpt.stop_mel_token
        self.codebook_size = int(tts.cfg.semantic_codec.codebook_size)
        self.spk_matrix, self.emo_matrix = tts.spk_matrix, tts.emo_matrix
        self.s2mel, self.bigvgan = tts.s2mel, tts.bigvgan

    def load_text_normalizer(self) -> bool:
        """Upstream's zh/en normaliser (WeTextProcessing), built now rather than at a request;
        without it, indextts25 normalises zh and en with NeMo's grammars (WARNING)."""
        ready = self._tts.text_process.load()
        if not ready:
            logger.warning(MISSING)
        return ready

    def segments(self, text: str, language: str, first: int, rest: int, normalize: bool) -> list:
        tts = self._tts
        # Normalisation (numbers, dates as words): upstream's TextNormalizer for zh and en (the
        # grammar from the text), NeMo's grammars for ja and es.
        text = tts._prepare_text(text, language, text_normalization=normalize)
        prefix = f"<|{language}|> "
        head, *tail = tts.split_text_by_tokens(text, first, prefix)
        pieces = [head]
        if tail:
            pieces += tts.split_text_by_tokens("".join(tail), rest, prefix)
        return [
            torch.IntTensor(tts.tokenizer.encode(prefix + p, allowed_special="all"))
            .unsqueeze(0)
            .to(self.device)
            for p in pieces
            if p.strip()
        ]

    def voice(self, clip: Path, key: tuple) -> Voice:
        features, style, prompt, mel = self._tts._speaker_conditioning(str(clip), key)
        return Voice(
            speaker_features=features,
            own_emotion=self.emotion_features(clip, key),
            style=style,
            gpt_speaker=self._speaker(style),
            prompt_condition=prompt,
            reference_mel=mel,
        )

    def _speaker(self, style):
        """The GPT's speaker conditioning (1, 1, d), computed as the GPT computes (its precision)."""
        with gpt_autocast(self.device, self.dtype):
            return self._tts.gpt.spk_emb_proj(style).unsqueeze(1)

    def emotion_features(self, clip: Path, key: tuple):
        return self._tts._emotion_conditioning(str(clip), key)

    def emotion_vector(self, voice: Voice, emotion_features, alpha: float):
        speaker = voice.speaker_features
        return self._tts.gpt.merge_emovec(
            speaker,
            emotion_features,
            torch.tensor([speaker.shape[-1]], device=self.device),
            torch.tensor([emotion_features.shape[-1]], device=self.device),
            alpha=alpha,
        )

    def decoder(
        self,
        voice: Voice,
        emotion,
        tokens,
        language: str,
        max_codes: int,
        cache: PooledCache | None = None,
    ) -> _Decoder25:
        conditioning = voice.gpt_speaker + emotion.unsqueeze(1)
        language_id = torch.LongTensor([lang_to_token(language)]).to(self.device)
        cache = cache or self.pool.acquire()
        return _Decoder25(self._tts.gpt, conditioning, tokens, language_id, max_codes, cache)

    def code_features(self, decoder, codes: list[int]):
        return self._tts.semantic_codec.decode(torch.tensor([codes], device=self.device))


# Where indextts25 looks for each auxiliary model under hf_cache/.
_FLAT_NAMES = {
    "w2v_bert": "w2v-bert-2.0",
    "campplus": "campplus_cn_common.bin",
    "bigvgan": "bigvgan",
}


def _flat_view(model: ModelDir) -> tempfile.TemporaryDirectory | None:
    """None if the auxiliary models are already flat; else a temporary dir of links to the model
    files and to each auxiliary model where indextts25 expects it (removed with the models)."""
    cache = model.path / "hf_cache"
    if all(model.aux[key] == cache / name for key, name in _FLAT_NAMES.items()):
        return None
    view = tempfile.TemporaryDirectory(prefix="indextts25-view-")
    root = Path(view.name)
    for entry in model.path.iterdir():
        if entry.name != "hf_cache":
            (root / entry.name).symlink_to(entry.resolve())
    (root / "hf_cache").mkdir()
    for key, name in _FLAT_NAMES.items():
        (root / "hf_cache" / name).symlink_to(model.aux[key].resolve())
    return view


class _Decoder25:
    """2.5's GPT inference model stepped by hand over this request's slot of the KV pool: the
    same embeddings, positions and head as its `forward` under generate()."""

    def __init__(self, gpt, conditioning, tokens, language_id, max_codes: int, cache: PooledCache):
        # [conditioning][2 zero latents][text] then the start code, as upstream's generate() sees it.
        latents = conditioning.new_zeros(1, 2, conditioning.size(2))
        self._model = gpt.inference_model
        self.history, self._prefix, _ = gpt.prepare_gpt_inputs(
            torch.cat([conditioning, latents], 1), tokens, language_id
        )
        room = cache.capacity - self._prefix.size(1) - 1
        if room < 1:
            raise EngineError(f"a text segment of {tokens.size(1)} tokens outgrows the KV pool")
        self.capacity = min(max_codes, gpt.max_mel_tokens, room)
        self._cache = cache
        self._fed = 0  # codes fed back: the next one sits at mel position fed + 1

    def start(self):
        model = self._model
        start = model.embeddings(self.history[:, self._prefix.size(1) :])
        start = start + model.text_pos_embedding(start)  # the start code at mel position 0
        hidden = self._cache.prefix(torch.cat([self._prefix, start], 1))
        return model.lm_head(hidden)[:, -1]

    @property
    def cache(self) -> PooledCache:
        return self._cache

    def step(self, code):
        return self.step_output(self._cache.step(self.step_input(code)))

    def step_input(self, code):
        """The code just sampled, embedded at its mel position (1, 1, d)."""
        self._fed += 1
        model = self._model
        return model.embeddings(code) + model.text_pos_embedding.get_fixed_embedding(
            self._fed, code.device
        )

    def step_output(self, hidden):
        return self._model.lm_head(hidden)[:, -1]
