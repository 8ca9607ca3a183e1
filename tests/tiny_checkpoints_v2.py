"""Tiny random-weight IndexTTS-2 model dirs in upstream's file formats, bit-identical every time.

Every weight comes from numpy, seeded by the tensor's name (not torch's RNG), so the golden-file
test and `tests/make_v2_goldens.py` (run in upstream's environment) load the very same numbers.
The files are in the formats upstream reads: `gpt.pth` with its training-only `text_head`, the
MaskGCT codec as safetensors with its decoder and weight-normed projections, s2mel and BigVGAN
with weight-normed layers as `weight_g`/`weight_v`, w2v-BERT as a transformers dir. The auxiliary
models go in `hf_cache/` in the flat layout or the hub-cache one.

Fixed by the released code: w2v-BERT features are 1024 wide and read after layer 17; the GPT is
1280 wide (s2mel's `gpt_layer` takes 1280 inputs); CAMPPlus maps 80 fbank bins to 192; 80 mels at
hop 256 and 22050 Hz. The rest shrinks. The audio is noise: these dirs prove the model code,
streaming and plumbing, not voices.

    python tests/tiny_checkpoints_v2.py OUT_DIR [--hub-layout]
"""

from __future__ import annotations

import json
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import yaml
from tiny_checkpoints import (
    BIGVGAN,
    CODES,  # GPT codes = the semantic codebook (real: 8192)
    EMOTION_PROTOTYPES,
    w2v_bert_config,
    write_reference_clip,
)

GPT_WIDTH = 1280
W2V_WIDTH = 1024
BPE_MODEL = Path(__file__).parent / "data" / "tiny_bpe.model"  # 200 pieces, upper-case + CJK
TEXT_TOKENS = 200
# BigVGAN's own init (normal, std 0.01) inside and a louder output layer: the random vocoder then
# makes smooth noise (an offset of ~-10k with ~700 RMS on top) where a join that clicks stands out
# and a WebRTC client hears "speech"; at 1/sqrt(fan-in) everywhere it makes clipped white noise.
BIGVGAN_STDS = {"ups.": 0.01, "resblocks.": 0.01}
BIGVGAN_GAINS = {"conv_post.": 16.0}
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"
# Layers upstream wraps in torch.nn.utils.weight_norm (saved as weight_g + weight_v).
_WEIGHT_NORMED = {
    "s2mel": (
        "estimator.x_embedder.",
        "estimator.final_layer.linear.",
        "estimator.wavenet.cond_layer.",
        "estimator.wavenet.in_layers.",
        "estimator.wavenet.res_skip_layers.",
        "estimator.style_in.",
    ),
    "bigvgan": ("conv_pre.", "conv_post.", "ups.", "resblocks."),
    "codec": ("quantizer.quantizers.0.in_project.", "quantizer.quantizers.0.out_project."),
}


def config(stop_bias_note: str = "") -> dict:
    """config.yaml of a tiny IndexTTS-2 (the released file's keys)."""
    from tiny_checkpoints import config as config_25

    tiny_25 = config_25()
    conformer = {
        "output_size": 64,
        "linear_units": 64,
        "attention_heads": 2,
        "num_blocks": 1,
        "input_layer": "conv2d2",
        "perceiver_mult": 1,
    }
    return {
        "dataset": {"bpe_model": "bpe.model", "sample_rate": 24000, "squeeze": False},
        "gpt": {
            "model_dim": GPT_WIDTH,
            "max_mel_tokens": 400,
            "max_text_tokens": 120,
            "heads": 4,
            "use_mel_codes_as_input": True,
            "mel_length_compression": 1024,
            "layers": 2,
            "number_text_tokens": TEXT_TOKENS,
            "number_mel_codes": CODES + 2,
            "start_mel_token": CODES,
            "stop_mel_token": CODES + 1,
            "start_text_token": 0,
            "stop_text_token": 1,
            "train_solo_embeddings": False,
            "condition_type": "conformer_perceiver",
            "condition_module": conformer,
            "emo_condition_module": conformer,
        },
        "semantic_codec": tiny_25["semantic_codec"],  # same shape as 2.5's codec config
        "s2mel": {**tiny_25["s2mel"], "reg_loss_type": "l1"},
        "gpt_checkpoint": "gpt.pth",
        "w2v_stat": "wav2vec2bert_stats.pt",
        "s2mel_checkpoint": "s2mel.pth",
        "emo_matrix": "feat2.pt",
        "spk_matrix": "feat1.pt",
        "emo_num": [EMOTION_PROTOTYPES] * 8,
        "qwen_emo_path": "qwen0.6bemo4-merge/",
        "vocoder": {"type": "bigvgan", "name": "nvidia/bigvgan_v2_22khz_80band_256x"},
        "version": 2.0,
    }


def _values(
    name: str, shape: tuple[int, ...], seed: int, gain: float = 1.0, std: float | None = None
) -> np.ndarray:
    """Deterministic values for one parameter, from its name alone: norm scales 1, other vectors
    small, matrices at `gain` / sqrt(fan-in) (or at `std`)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) <= 1:
        if leaf == "weight":  # norm scales
            return np.ones(shape, np.float32)
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)
    scale = std if std is not None else gain / np.sqrt(int(np.prod(shape[1:])))
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _weights(
    module,
    seed: int,
    normed: tuple[str, ...] = (),
    gains: dict[str, float] | None = None,
    stds: dict[str, float] | None = None,
) -> dict:
    """A state dict shaped like `module`'s: parameters from numpy, buffers as constructed, and
    weights of `normed` layers split into weight_g (norm over dims ≥ 1) and weight_v. `gains` and
    `stds` set the scale of matrices by name prefix."""
    import torch

    params = dict(module.named_parameters())
    out = {}
    for name, value in module.state_dict().items():
        if name not in params:
            out[name] = value.clone()
            continue
        gain = next((g for p, g in (gains or {}).items() if name.startswith(p)), 1.0)
        std = next((d for p, d in (stds or {}).items() if name.startswith(p)), None)
        array = _values(name, tuple(value.shape), seed, gain, std)
        if name.endswith(".weight") and name.startswith(normed) and value.ndim > 1:
            base = name[: -len("weight")]
            norm = np.sqrt((array.astype(np.float64) ** 2).sum(axis=tuple(range(1, array.ndim))))
            out[base + "weight_g"] = torch.from_numpy(
                norm.astype(np.float32).reshape((-1,) + (1,) * (array.ndim - 1))
            )
            out[base + "weight_v"] = torch.from_numpy(array)
        else:
            out[name] = torch.from_numpy(array)
    return out


def _gpt(cfg: dict, seed: int, stop_bias: float) -> dict:
    import torch

    from tts_plugin.engines.indextts2.unified_voice import UnifiedVoiceV2

    gpt = cfg["gpt"]
    width = gpt["model_dim"]
    weights = _weights(UnifiedVoiceV2(**gpt), seed)
    weights["mel_head.bias"][gpt["stop_mel_token"]] = stop_bias
    rows = gpt["number_text_tokens"] + 1  # the training-only text head upstream keeps
    weights["text_head.weight"] = torch.from_numpy(_values("text_head.weight", (rows, width), seed))
    weights["text_head.bias"] = torch.from_numpy(_values("text_head.bias", (rows,), seed))
    return weights


def _codec(cfg: dict, seed: int) -> dict:
    import torch

    from tts_plugin.engines.indextts2.semantic_codec import SemanticCodec

    weights = _weights(SemanticCodec(**cfg["semantic_codec"]), seed, _WEIGHT_NORMED["codec"])
    for name in [n for n in weights if n.startswith("encoder.")]:  # the training-only decoder
        twin = "decoder." + name[len("encoder.") :]
        weights[twin] = torch.from_numpy(_values(twin, tuple(weights[name].shape), seed))
    return weights


def _s2mel(cfg: dict, seed: int) -> dict:
    from indextts25.s2mel.modules.commons import MyModel
    from omegaconf import OmegaConf

    from tts_plugin.engines.indextts2.v2_models import gpt_layer

    s2mel = MyModel(OmegaConf.create(cfg["s2mel"]))
    s2mel.models["gpt_layer"] = gpt_layer(cfg["gpt"]["model_dim"])
    return {
        name: _weights(module, seed, _WEIGHT_NORMED["s2mel"] if name == "cfm" else ())
        for name, module in s2mel.models.items()
    }


def _w2v_bert(directory: Path, seed: int, cfg) -> None:
    from safetensors.torch import save_file
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    directory.mkdir(parents=True)
    cfg.save_pretrained(directory)
    SeamlessM4TFeatureExtractor().save_pretrained(directory)
    weights = _weights(Wav2Vec2BertModel(cfg), seed)
    # Half precision on disk (fp16-exact values, read into float32 models on both sides).
    save_file({k: v.half() for k, v in weights.items()}, str(directory / "model.safetensors"))


def build(
    model_dir: Path,
    *,
    hub_layout: bool = False,
    stop_bias: float = -4.0,
    seed: int = 0,
    cfg: dict | None = None,
    w2v_bert=None,
    vocoder_config: dict | None = None,
) -> Path:
    """Write a complete IndexTTS-2 model dir; return it (`stop_bias` as tiny_checkpoints.build).

    Tiny unless told otherwise: `cfg` (config.yaml), `w2v_bert` (a Wav2Vec2BertConfig) and
    `vocoder_config` (BigVGAN's config.json) give other shapes, as benchmarks/ does for the
    released ones."""
    import torch
    from indextts25.s2mel.modules.bigvgan.bigvgan import BigVGAN, load_hparams_from_json
    from indextts25.s2mel.modules.campplus.DTDNN import CAMPPlus
    from safetensors.torch import save_file

    model_dir.mkdir(parents=True, exist_ok=True)
    cfg = cfg or config()
    width, rows = cfg["gpt"]["model_dim"], sum(cfg["emo_num"])
    (model_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
    with torch.device("cpu"), torch.no_grad():
        torch.save({"model": _gpt(cfg, seed, stop_bias)}, model_dir / "gpt.pth")
        torch.save({"net": _s2mel(cfg, seed)}, model_dir / "s2mel.pth")
        torch.save(
            {"mean": torch.zeros(W2V_WIDTH), "var": torch.ones(W2V_WIDTH)},
            model_dir / "wav2vec2bert_stats.pt",
        )
        torch.save(torch.from_numpy(_values("feat1", (rows, 192), seed)), model_dir / "feat1.pt")
        torch.save(torch.from_numpy(_values("feat2", (rows, width), seed)), model_dir / "feat2.pt")
        shutil.copy(BPE_MODEL, model_dir / "bpe.model")

        aux = model_dir / "hf_cache"
        place = _hub_place if hub_layout else _flat_place
        _w2v_bert(
            place(aux, "facebook/w2v-bert-2.0", "w2v-bert-2.0"), seed, w2v_bert or w2v_bert_config()
        )
        save_file(
            _codec(cfg, seed),
            str(
                place(
                    aux,
                    "amphion/MaskGCT",
                    "semantic_codec_model.safetensors",
                    "semantic_codec/model.safetensors",
                    file=True,
                )
            ),
        )
        torch.save(
            _weights(CAMPPlus(feat_dim=80, embedding_size=192), seed),
            place(
                aux,
                "funasr/campplus",
                "campplus_cn_common.bin",
                "campplus_cn_common.bin",
                file=True,
            ),
        )
        vocoder = place(aux, "nvidia/bigvgan_v2_22khz_80band_256x", "bigvgan")
        vocoder.mkdir(parents=True)
        (vocoder / "config.json").write_text(json.dumps(vocoder_config or BIGVGAN))
        bigvgan = BigVGAN(load_hparams_from_json(str(vocoder / "config.json")))
        torch.save(
            {"generator": _weights(bigvgan, seed, _WEIGHT_NORMED["bigvgan"], BIGVGAN_GAINS, BIGVGAN_STDS)},
            vocoder / "bigvgan_generator.pt",
        )  # fmt: skip
    write_reference_clip(model_dir / "voice.wav")
    return model_dir


def _flat_place(aux: Path, repo: str, flat: str, inside: str = "", *, file: bool = False) -> Path:
    """Today's layout: hf_cache/<name>."""
    aux.mkdir(parents=True, exist_ok=True)
    return aux / flat


def _hub_place(aux: Path, repo: str, flat: str, inside: str = "", *, file: bool = False) -> Path:
    """The hub-cache layout: hf_cache/models--OWNER--NAME/snapshots/HASH/<path in repo>."""
    root = aux / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(SNAPSHOT)
    snapshot = root / "snapshots" / SNAPSHOT
    if not file:
        return snapshot
    path = snapshot / inside
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    # Run as a script, tests/ comes first on the path and its tts_plugin/ test folder would hide
    # the package; with the repo root on the path the package wins.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python tests/tiny_checkpoints_v2.py OUT_DIR [--hub-layout]")
    print(build(Path(sys.argv[1]), hub_layout=sys.argv[2:] == ["--hub-layout"]))
