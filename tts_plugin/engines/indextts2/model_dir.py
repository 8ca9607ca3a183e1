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
# (path inside the model dir, where a user gets it)
_FILES_25: tuple[tuple[str, str], ...] = (
    ("config.yaml", _HF + "IndexTeam/IndexTTS-2.5"),
    ("gpt.pth", _HF + "IndexTeam/IndexTTS-2.5"),
    ("s2mel.pth", _HF + "IndexTeam/IndexTTS-2.5"),
    ("codec.pth", _HF + "IndexTeam/IndexTTS-2.5"),
    ("multilingual_zh_ja_yue_char_del.tiktoken", _HF + "IndexTeam/IndexTTS-2.5"),
    ("wav2vec2bert_stats.pt", _HF + "IndexTeam/IndexTTS-2.5"),
    ("feat1.pt", _HF + "IndexTeam/IndexTTS-2.5"),
    ("feat2.pt", _HF + "IndexTeam/IndexTTS-2.5"),
    ("hf_cache/w2v-bert-2.0/config.json", _HF + "facebook/w2v-bert-2.0"),
    ("hf_cache/w2v-bert-2.0/preprocessor_config.json", _HF + "facebook/w2v-bert-2.0"),
    ("hf_cache/w2v-bert-2.0/model.safetensors", _HF + "facebook/w2v-bert-2.0"),
    ("hf_cache/campplus_cn_common.bin", _HF + "funasr/campplus"),
    ("hf_cache/bigvgan/config.json", _HF + "nvidia/bigvgan_v2_22khz_80band_256x"),
    ("hf_cache/bigvgan/bigvgan_generator.pt", _HF + "nvidia/bigvgan_v2_22khz_80band_256x"),
)
_FILES_2: tuple[tuple[str, str], ...] = (
    ("config.yaml", _HF + "IndexTeam/IndexTTS-2"),
    ("gpt.pth", _HF + "IndexTeam/IndexTTS-2"),
    ("s2mel.pth", _HF + "IndexTeam/IndexTTS-2"),
    ("bpe.model", _HF + "IndexTeam/IndexTTS-2"),
    ("wav2vec2bert_stats.pt", _HF + "IndexTeam/IndexTTS-2"),
    ("feat1.pt", _HF + "IndexTeam/IndexTTS-2"),
    ("feat2.pt", _HF + "IndexTeam/IndexTTS-2"),
)


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
        generation, needed = "2.5", _FILES_25
    elif (root / "bpe.model").is_file():
        generation, needed = "2", _FILES_2
    else:
        raise EngineError(
            f"{root} is not an IndexTTS model dir: expected codec.pth (IndexTTS-2.5) or bpe.model "
            f"(IndexTTS-2); download {_HF}IndexTeam/IndexTTS-2.5 or {_HF}IndexTeam/IndexTTS-2"
        )
    for relative, source in needed:
        if not (root / relative).is_file():
            raise EngineError(
                f"IndexTTS-{generation} model file missing: {root / relative} "
                f"(get it from {source}; nothing is downloaded at run time)"
            )
    return ModelDir(root, generation)
