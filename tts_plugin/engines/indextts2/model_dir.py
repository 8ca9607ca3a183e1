"""Recognise an IndexTTS model dir and check every file is there before any model code runs.

Upstream code fetches missing auxiliary models from the Hugging Face hub at load time; we never
download, so a missing file is an `EngineError` that names it and says where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tts_plugin.engine import EngineError

Generation = Literal["2", "2.5"]

_HF = "https://huggingface.co/"
_SHARED = ("config.yaml", "gpt.pth", "s2mel.pth", "wav2vec2bert_stats.pt", "feat1.pt", "feat2.pt")
# Hugging Face repo → the files it provides, at their paths inside the model dir.
_FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "2.5": {
        "IndexTeam/IndexTTS-2.5": (
            *_SHARED,
            "codec.pth",
            "multilingual_zh_ja_yue_char_del.tiktoken",
        ),
        "facebook/w2v-bert-2.0": tuple(
            f"hf_cache/w2v-bert-2.0/{name}"
            for name in ("config.json", "preprocessor_config.json", "model.safetensors")
        ),
        "funasr/campplus": ("hf_cache/campplus_cn_common.bin",),
        "nvidia/bigvgan_v2_22khz_80band_256x": (
            "hf_cache/bigvgan/config.json",
            "hf_cache/bigvgan/bigvgan_generator.pt",
        ),
    },
    "2": {"IndexTeam/IndexTTS-2": (*_SHARED, "bpe.model")},
}


@dataclass(frozen=True)
class ModelDir:
    """A checked model dir and which IndexTTS generation its files belong to."""

    path: Path
    generation: Generation

    @property
    def label(self) -> str:
        return f"IndexTTS-{self.generation}"


def detect(path: Path | str) -> ModelDir:
    """Identify the generation from the files (2.5 has a codec and a tiktoken vocabulary; 2 has
    a SentencePiece `bpe.model`), then require every file that generation loads."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise EngineError(f"IndexTTS model dir not found: {root}")
    if (root / "codec.pth").is_file() or any(root.glob("*.tiktoken")):
        generation = "2.5"
    elif (root / "bpe.model").is_file():
        generation = "2"
    else:
        raise EngineError(
            f"{root} is not an IndexTTS model dir: expected codec.pth (IndexTTS-2.5) or bpe.model "
            f"(IndexTTS-2); download {_HF}IndexTeam/IndexTTS-2.5 or {_HF}IndexTeam/IndexTTS-2"
        )
    for repo, files in _FILES[generation].items():
        for relative in files:
            if not (root / relative).is_file():
                raise EngineError(
                    f"IndexTTS-{generation} model file missing: {root / relative} "
                    f"(get it from {_HF}{repo}; nothing is downloaded at run time)"
                )
    return ModelDir(root, generation)
