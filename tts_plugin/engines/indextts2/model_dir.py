"""Recognise an IndexTTS model dir and find every file before any model code runs.

Upstream fetches missing auxiliary models from the hub at load time and has kept them in
`{model_dir}/hf_cache/` in two layouts: flat (`hf_cache/w2v-bert-2.0/`, `hf_cache/bigvgan/`, …,
today's) and the Hugging Face hub cache (`hf_cache/models--amphion--MaskGCT/snapshots/<hash>/…`,
older installs). Both are read as they are. We never download: anything missing is one
`EngineError` naming every missing path and the repo it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tts_plugin.engine import EngineError

Generation = Literal["2", "2.5"]

_HF = "https://huggingface.co/"
_SHARED = ("config.yaml", "gpt.pth", "s2mel.pth", "wav2vec2bert_stats.pt", "feat1.pt", "feat2.pt")
_OWN_FILES: dict[Generation, tuple[str, ...]] = {
    "2.5": (*_SHARED, "codec.pth", "multilingual_zh_ja_yue_char_del.tiktoken"),
    "2": (*_SHARED, "bpe.model"),
}
_OWN_REPO = {"2.5": "IndexTeam/IndexTTS-2.5", "2": "IndexTeam/IndexTTS-2"}


@dataclass(frozen=True)
class _Aux:
    """An auxiliary model: where its files sit in the flat layout and in its hub repo."""

    repo: str
    flat: str  # path under hf_cache/ (a dir when `files` are inside it)
    files: tuple[str, ...]  # paths inside the repo (flat: inside `flat`, unless it is a file)
    generations: tuple[Generation, ...] = ("2", "2.5")

    def flat_paths(self, cache: Path) -> list[Path]:
        if len(self.files) == 1 and not self.flat.endswith("/"):
            return [cache / self.flat]
        return [cache / self.flat / Path(name).name for name in self.files]


_AUX = {
    "w2v_bert": _Aux(
        "facebook/w2v-bert-2.0",
        "w2v-bert-2.0/",
        ("config.json", "preprocessor_config.json", "model.safetensors"),
    ),
    "semantic_codec": _Aux(
        "amphion/MaskGCT",
        "semantic_codec_model.safetensors",
        ("semantic_codec/model.safetensors",),
        generations=("2",),
    ),
    "campplus": _Aux("funasr/campplus", "campplus_cn_common.bin", ("campplus_cn_common.bin",)),
    "bigvgan": _Aux(
        "nvidia/bigvgan_v2_22khz_80band_256x",
        "bigvgan/",
        ("config.json", "bigvgan_generator.pt"),
    ),
}


@dataclass(frozen=True)
class ModelDir:
    """A checked model dir: its generation and where each auxiliary model's files are.

    `aux` maps w2v_bert and bigvgan to dirs, semantic_codec (IndexTTS-2 only) and campplus to
    files.
    """

    path: Path
    generation: Generation
    aux: dict[str, Path]

    @property
    def label(self) -> str:
        return f"IndexTTS-{self.generation}"


def detect(path: Path | str) -> ModelDir:
    """Identify the generation from the files (2.5 has a codec and a tiktoken vocabulary; 2 has
    a SentencePiece `bpe.model`), then locate every file that generation loads."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise EngineError(f"IndexTTS model dir not found: {root}")
    if (root / "codec.pth").is_file() or any(root.glob("*.tiktoken")):
        generation: Generation = "2.5"
    elif (root / "bpe.model").is_file():
        generation = "2"
    else:
        raise EngineError(
            f"{root} is not an IndexTTS model dir: expected codec.pth (IndexTTS-2.5) or bpe.model "
            f"(IndexTTS-2); download {_HF}IndexTeam/IndexTTS-2.5 or {_HF}IndexTeam/IndexTTS-2"
        )
    missing = [
        (root / name, _OWN_REPO[generation])
        for name in _OWN_FILES[generation]
        if not (root / name).is_file()
    ]
    aux: dict[str, Path] = {}
    for key, model in _AUX.items():
        if generation not in model.generations:
            continue
        found = _locate(root / "hf_cache", model)
        if isinstance(found, Path):
            aux[key] = found
        else:
            missing += [(p, model.repo) for p in found]
    if missing:
        listed = "; ".join(f"{p} (from {_HF}{repo})" for p, repo in missing)
        raise EngineError(
            f"IndexTTS-{generation} model files missing: {listed}. Auxiliary models may also sit "
            "in hf_cache/ in the hub-cache layout (models--OWNER--NAME/snapshots/HASH/); "
            "nothing is downloaded at run time"
        )
    return ModelDir(root, generation, aux)


def _locate(cache: Path, model: _Aux) -> Path | list[Path]:
    """The model's dir or file in the flat layout, else in a hub snapshot; else the flat paths
    that are missing."""
    flat = model.flat_paths(cache)
    if all(p.is_file() for p in flat):
        return _result(flat, model)
    snapshot = _snapshot(cache, model.repo)
    if snapshot is not None:
        files = [snapshot / name for name in model.files]
        if all(p.is_file() for p in files):
            return _result(files, model)
    return [p for p in flat if not p.is_file()]


def _result(files: list[Path], model: _Aux) -> Path:
    return files[0].parent if model.flat.endswith("/") else files[0]


def _snapshot(cache: Path, repo: str) -> Path | None:
    """The snapshot `refs/main` names, or the only one there is (as upstream resolves it)."""
    root = cache / f"models--{repo.replace('/', '--')}"
    snapshots = root / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = root / "refs" / "main"
    if ref.is_file():
        named = snapshots / ref.read_text().strip()
        if named.is_dir():
            return named
    candidates = [p for p in snapshots.iterdir() if p.is_dir()]
    return candidates[0] if len(candidates) == 1 else None
