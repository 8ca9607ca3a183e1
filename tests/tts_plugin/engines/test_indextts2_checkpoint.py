"""IndexTTS-2's loaders take the key variants real checkpoints carry (a DDP `module.` prefix, keys
we do not use, a wrapped w2v-BERT), as upstream's loaders do, and name any weight that is missing
or does not fit, where upstream would run with that layer left random."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from offline import no_network
from safetensors.torch import load_file, save_file

from tts_plugin.engine import EngineError
from tts_plugin.engines.indextts2.model_dir import detect

pytestmark = pytest.mark.slow
W2V = Path("hf_cache/w2v-bert-2.0/model.safetensors")


def load(model_dir: Path):
    from tts_plugin.engines.indextts2.v2_models import IndexTTS2Models

    with no_network():
        return IndexTTS2Models(detect(model_dir), "cpu", False, False)


def linked_copy(model_dir: Path, to: Path) -> Path:
    """A copy of links, whose files a test may replace one by one."""
    shutil.copytree(model_dir, to, symlinks=True, copy_function=lambda s, d: Path(d).symlink_to(s))
    return to


def rewrite(path: Path, content) -> None:
    path.unlink()
    if path.suffix == ".safetensors":
        save_file(content, str(path))
    else:
        torch.save(content, path)


def weights(models) -> dict[str, dict]:
    parts = {"gpt": models.gpt, "w2v": models._w2v, **models.s2mel.models}
    return {name: part.state_dict() for name, part in parts.items()}


@pytest.fixture(scope="module")
def reference(tiny_indextts2):
    return weights(load(tiny_indextts2))


def test_prefixed_wrapped_and_extra_keys_load_the_same_weights(tiny_indextts2, tmp_path, reference):
    model = linked_copy(tiny_indextts2, tmp_path / "model")
    gpt = torch.load(tiny_indextts2 / "gpt.pth")["model"]
    extra = torch.zeros(3)
    rewrite(
        model / "gpt.pth",
        {
            "model": {
                **{f"module.{k}": v for k, v in gpt.items()},
                "module.text_solo_embedding.weight": extra,
            }
        },
    )
    net = torch.load(tiny_indextts2 / "s2mel.pth")["net"]
    rewrite(
        model / "s2mel.pth",
        {
            "net": {
                **{f"module.{name}": {f"module.{k}": v for k, v in part.items()} | {"input_pos": extra}
                   for name, part in net.items()},
                "discriminator": {"weight": extra},
            }
        },
    )  # fmt: skip
    w2v = load_file(str(tiny_indextts2 / W2V))
    rewrite(
        model / W2V, {**{f"wav2vec2_bert.{k}": v for k, v in w2v.items()}, "lm_head.weight": extra}
    )

    loaded = weights(load(model))
    assert loaded.keys() == reference.keys()
    for part, state in reference.items():
        assert loaded[part].keys() == state.keys(), part
        assert all(torch.equal(loaded[part][k], v) for k, v in state.items()), part


def test_a_missing_weight_is_named(tiny_indextts2, tmp_path):
    model = linked_copy(tiny_indextts2, tmp_path / "model")
    gpt = torch.load(tiny_indextts2 / "gpt.pth")["model"]
    gone = next(k for k in gpt if k.startswith("gpt.h.0."))
    rewrite(model / "gpt.pth", {"model": {k: v for k, v in gpt.items() if k != gone}})
    with pytest.raises(
        EngineError, match=rf"gpt.pth lacks 1 weights of the GPT, e.g. \['{gone}'\]"
    ):
        load(model)


def test_a_weight_that_does_not_fit_the_config_is_named(tiny_indextts2, tmp_path):
    model = linked_copy(tiny_indextts2, tmp_path / "model")
    net = torch.load(tiny_indextts2 / "s2mel.pth")["net"]
    key, value = next(iter(net["length_regulator"].items()))
    net["length_regulator"][key] = torch.zeros(value.shape[0] + 1, *value.shape[1:])
    rewrite(model / "s2mel.pth", {"net": net})
    with pytest.raises(EngineError, match=rf"1 weights of length_regulator do not fit.*{key}"):
        load(model)
    del net["length_regulator"]
    rewrite(model / "s2mel.pth", {"net": net})
    with pytest.raises(EngineError, match="s2mel.pth has no length_regulator"):
        load(model)
