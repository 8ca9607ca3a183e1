"""Model dirs as users have them: either generation, auxiliary models in either hf_cache layout,
and one clear error that names every missing file and where it comes from."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from offline import no_network
from tiny_checkpoints import tiny_engine

from tts_plugin.engine import EngineError, SynthesisRequest
from tts_plugin.engines.indextts2.model_dir import detect

pytestmark = pytest.mark.slow
SNAPSHOT = "5f0c1b2a"
# Flat path under hf_cache/ → (hub repo, path inside the repo); a dir maps to the snapshot root.
HUB = {
    "w2v-bert-2.0": ("facebook/w2v-bert-2.0", ""),
    "semantic_codec_model.safetensors": ("amphion/MaskGCT", "semantic_codec/model.safetensors"),
    "campplus_cn_common.bin": ("funasr/campplus", "campplus_cn_common.bin"),
    "bigvgan": ("nvidia/bigvgan_v2_22khz_80band_256x", ""),
}


def hub_layout(flat: Path, to: Path, *, with_ref: bool = True) -> Path:
    """A copy (of links) of a flat model dir with hf_cache/ in the hub-cache layout."""
    to.mkdir()
    for entry in flat.iterdir():
        if entry.name != "hf_cache":
            (to / entry.name).symlink_to(entry)
    for name, (repo, inside) in HUB.items():
        source = flat / "hf_cache" / name
        if not source.exists():
            continue
        root = to / "hf_cache" / f"models--{repo.replace('/', '--')}"
        snapshot = root / "snapshots" / SNAPSHOT
        snapshot.mkdir(parents=True)
        if with_ref:
            (root / "refs").mkdir()
            (root / "refs" / "main").write_text(SNAPSHOT + "\n")
        if source.is_dir():
            for file in source.iterdir():
                (snapshot / file.name).symlink_to(file)
        else:
            (snapshot / inside).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / inside).symlink_to(source)
    return to


def test_both_layouts_resolve_to_the_same_files(tiny_model_dir, tmp_path):
    flat = detect(tiny_model_dir)
    hub = detect(hub_layout(tiny_model_dir, tmp_path / "hub"))
    assert flat.generation == hub.generation and set(flat.aux) == set(hub.aux)
    for key, path in hub.aux.items():
        assert f"snapshots/{SNAPSHOT}" in str(path), key
        assert path.resolve() == flat.aux[key].resolve() or path.is_dir()
    # Without refs/main, the only snapshot there is is used, as upstream resolves it.
    assert detect(hub_layout(tiny_model_dir, tmp_path / "noref", with_ref=False)).aux == {
        k: Path(str(p).replace("/hub/", "/noref/")) for k, p in hub.aux.items()
    }


def test_the_engine_speaks_from_a_hub_layout_dir(tiny_model_dir, tmp_path):
    engine = tiny_engine(hub_layout(tiny_model_dir, tmp_path / "hub"), warm_up=False)
    with no_network():
        engine.load()
        chunks = list(engine.stream(SynthesisRequest("Hi there."), threading.Event()))
    assert np.sqrt(np.mean(np.concatenate(chunks).astype(np.float64) ** 2)) > 300


def remove(model_dir: Path, to: Path, *missing: str) -> Path:
    """Links to `model_dir` without the `missing` files."""
    for source in model_dir.rglob("*"):
        relative = source.relative_to(model_dir)
        if source.is_dir() or str(relative) in missing:
            continue
        (to / relative).parent.mkdir(parents=True, exist_ok=True)
        (to / relative).symlink_to(source)
    return to


@pytest.mark.parametrize(
    ("missing", "sources"),
    [
        (["gpt.pth"], ["IndexTeam/IndexTTS-2"]),
        (["hf_cache/semantic_codec_model.safetensors"], ["amphion/MaskGCT"]),
        (["hf_cache/w2v-bert-2.0/preprocessor_config.json"], ["facebook/w2v-bert-2.0"]),
        (
            ["feat2.pt", "hf_cache/campplus_cn_common.bin", "hf_cache/bigvgan/config.json"],
            ["IndexTeam/IndexTTS-2", "funasr/campplus", "nvidia/bigvgan_v2_22khz_80band_256x"],
        ),
    ],
    ids=["gpt", "semantic-codec", "w2v-bert", "three-at-once"],
)
def test_every_missing_v2_file_is_named_with_its_source(tiny_indextts2, tmp_path, missing, sources):
    with pytest.raises(EngineError) as error:
        detect(remove(tiny_indextts2, tmp_path / "model", *missing))
    message = str(error.value)
    assert "IndexTTS-2 model files missing" in message and "nothing is downloaded" in message
    for path, source in zip(missing, sources, strict=True):
        assert str(tmp_path / "model" / path) in message and source in message


def test_a_hub_cache_with_two_snapshots_and_no_ref_is_not_guessed(tiny_indextts2, tmp_path):
    model = hub_layout(tiny_indextts2, tmp_path / "hub", with_ref=False)
    (model / "hf_cache" / "models--funasr--campplus" / "snapshots" / "other").mkdir()
    with pytest.raises(
        EngineError, match="campplus_cn_common.bin .from https://huggingface.co/funasr"
    ):
        detect(model)


def test_v2_languages_and_emotion_modes(tiny_indextts2):
    engine = tiny_engine(tiny_indextts2)
    assert engine.generation == "IndexTTS-2"
    assert engine.capabilities.languages == ("en", "zh")
    assert engine.capabilities.emotion_modes == {"preset", "vector", "reference", "description"}
