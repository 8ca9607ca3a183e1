"""Tiny random-weight IndexTTS-2.5 model dirs, so the real engine runs end to end on a CPU.

The layout and every module are the real ones (`indextts25-inference` loads them strictly); only
the widths shrink where the code allows. Fixed by the code: the w2v-BERT features are 1024 wide and
read at layer 17, CAMPPlus maps 80 fbank bins to 192, mels are 80 bins at hop 256 and 22050 Hz.
The audio is noise: these dirs prove plumbing, streaming, timing and cancellation, not voices.

    python tests/tiny_checkpoints.py OUT_DIR    # build one for the benchmark or the CLI
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

SAMPLE_RATE = 22050
W2V_WIDTH = 1024
W2V_LAYERS = 17
TEXT_VOCAB = 4096  # byte-level ranks + tiktoken specials (~1900) must fit
CODES = 512  # semantic codebook (real: 8192)
EMOTION_PROTOTYPES = 2  # per emotion (real: a few dozen)
TOKENIZER = "multilingual_zh_ja_yue_char_del"


def config(gpt_width: int = 64) -> dict:
    """config.yaml of a tiny IndexTTS-2.5 (same keys as the released one)."""
    return {
        "gpt_checkpoint": "gpt.pth",
        "s2mel_checkpoint": "s2mel.pth",
        "w2v_stat": "wav2vec2bert_stats.pt",
        "emo_matrix": "feat2.pt",
        "spk_matrix": "feat1.pt",
        "emo_num": [EMOTION_PROTOTYPES] * 8,
        "gpt": {
            "model_dim": gpt_width,
            "layers": 2,
            "heads": 4,
            "max_text_tokens": 200,
            "max_mel_tokens": 400,
            "number_text_tokens": TEXT_VOCAB,
            "number_mel_codes": CODES + 2,
            "start_mel_token": CODES,
            "stop_mel_token": CODES + 1,
            "start_text_token": 0,
            "stop_text_token": 1,
            "emo_condition_module": {
                "output_size": 64,
                "linear_units": 64,
                "attention_heads": 4,
                "num_blocks": 1,
                "input_layer": "conv2d2",
                "perceiver_mult": 1,
            },
        },
        "semantic_codec": {
            "codebook_size": CODES,
            "hidden_size": W2V_WIDTH,
            "codebook_dim": 8,
            "vocos_dim": 32,
            "vocos_intermediate_dim": 64,
            "vocos_num_layers": 2,
        },
        "s2mel": {
            "preprocess_params": {
                "sr": SAMPLE_RATE,
                "spect_params": {
                    "n_fft": 1024,
                    "win_length": 1024,
                    "hop_length": 256,
                    "n_mels": 80,
                    "fmin": 0,
                    "fmax": "None",
                },
            },
            "dit_type": "DiT",
            "DiT": {
                "hidden_dim": 32,
                "num_heads": 2,
                "depth": 2,
                "class_dropout_prob": 0.1,
                "block_size": 8192,
                "in_channels": 80,
                "style_condition": True,
                "final_layer_type": "wavenet",
                "target": "mel",
                "content_dim": 32,
                "content_codebook_size": 1024,
                "content_type": "discrete",
                "f0_condition": False,
                "n_f0_bins": 512,
                "content_codebooks": 1,
                "is_causal": False,
                "long_skip_connection": True,
                "zero_prompt_speech_token": False,
                "time_as_token": False,
                "style_as_token": False,
                "uvit_skip_connection": True,
                "add_resblock_in_transformer": False,
            },
            "wavenet": {
                "hidden_dim": 32,
                "num_layers": 2,
                "kernel_size": 5,
                "dilation_rate": 1,
                "p_dropout": 0.2,
                "style_condition": True,
            },
            "style_encoder": {"dim": 192},
            "length_regulator": {
                "channels": 32,
                "is_discrete": False,
                "in_channels": W2V_WIDTH,
                "content_codebook_size": 64,
                "sampling_ratios": [1, 1],
                "vector_quantize": False,
                "n_codebooks": 1,
                "quantizer_dropout": 0.0,
                "f0_condition": False,
                "n_f0_bins": 512,
            },
        },
    }


BIGVGAN = {
    "resblock": "1",
    "num_mels": 80,
    "upsample_rates": [4, 4, 4, 4],
    "upsample_kernel_sizes": [8, 8, 8, 8],
    "upsample_initial_channel": 32,
    "resblock_kernel_sizes": [3],
    "resblock_dilation_sizes": [[1, 3]],
    "activation": "snakebeta",
    "snake_logscale": True,
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
    "sampling_rate": SAMPLE_RATE,
    "hop_size": 256,
}


def _random_like(module, seed: int) -> dict:
    """A state dict of small random values shaped like `module`'s (fast, no init code)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, value in module.state_dict().items():
        if not value.is_floating_point():
            weights[name] = value.clone()
        elif name.endswith("running_var"):  # batch-norm statistics must stay valid
            weights[name] = torch.ones_like(value)
        elif name.endswith("running_mean"):
            weights[name] = torch.zeros_like(value)
        elif value.ndim == 1 and "norm" in name and name.endswith("weight"):
            weights[name] = torch.ones_like(value)
        else:
            weights[name] = (torch.randn(value.shape, generator=generator) * 0.02).to(value.dtype)
    return weights


def w2v_bert_config():
    """A tiny w2v-BERT: the real width and depth up to layer 17, everything else small."""
    from transformers import Wav2Vec2BertConfig

    return Wav2Vec2BertConfig(
        hidden_size=W2V_WIDTH,
        num_hidden_layers=W2V_LAYERS,
        num_attention_heads=4,
        intermediate_size=32,
        output_hidden_size=W2V_WIDTH,
        conv_depthwise_kernel_size=3,
        dtype="float32",
    )


def _write_w2v_bert(directory: Path, cfg=None) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    directory.mkdir(parents=True)
    cfg = cfg or w2v_bert_config()
    cfg.save_pretrained(directory)
    SeamlessM4TFeatureExtractor().save_pretrained(directory)
    with torch.device("meta"):
        shapes = Wav2Vec2BertModel(cfg)
    generator = torch.Generator().manual_seed(17)
    weights = {}
    for name, t in shapes.state_dict().items():
        if name.endswith(("layer_norm.weight", "norm.weight")) and t.ndim == 1:
            weights[name] = torch.ones(t.shape, dtype=torch.float16)
        else:
            weights[name] = (torch.randn(t.shape, generator=generator) * 0.02).half()
    save_file(weights, str(directory / "model.safetensors"))


def build(
    model_dir: Path,
    *,
    stop_bias: float = -4.0,
    seed: int = 0,
    cfg: dict | None = None,
    w2v_bert=None,
    vocoder_config: dict | None = None,
) -> Path:
    """Write a complete tiny IndexTTS-2.5 model dir; return it.

    `stop_bias` lowers the stop logit so a random GPT speaks for a while instead of stopping at
    once (it still stops sometimes, as a real one does at the end of the text). Tiny unless told
    otherwise: `cfg` (config.yaml), `w2v_bert` (a Wav2Vec2BertConfig) and `vocoder_config`
    (BigVGAN's config.json) give other shapes, as benchmarks/ does for the released ones.
    """
    import torch
    from indextts25.codec.models import EnhancedCodec
    from indextts25.gpt.model_v2 import UnifiedVoice
    from indextts25.s2mel.modules.bigvgan.bigvgan import BigVGAN, load_hparams_from_json
    from indextts25.s2mel.modules.campplus.DTDNN import CAMPPlus
    from indextts25.s2mel.modules.commons import MyModel
    from omegaconf import OmegaConf

    model_dir.mkdir(parents=True, exist_ok=True)
    cfg = cfg or config()
    (model_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
    ocfg = OmegaConf.create(cfg)
    stop = cfg["gpt"]["stop_mel_token"]
    torch.manual_seed(seed)

    gpt = UnifiedVoice(**ocfg.gpt)
    weights = _random_like(gpt, seed + 1)
    weights["mel_head.bias"][stop] = stop_bias
    torch.save({"model": weights}, model_dir / "gpt.pth")

    codec = EnhancedCodec(**ocfg.semantic_codec)
    torch.save({"model": _random_like(codec, seed + 2)}, model_dir / "codec.pth")

    s2mel = MyModel(ocfg.s2mel)
    net = {name: _random_like(m, seed + 3 + i) for i, (name, m) in enumerate(s2mel.models.items())}
    torch.save({"net": net}, model_dir / "s2mel.pth")

    torch.save(
        {"mean": torch.zeros(W2V_WIDTH), "var": torch.ones(W2V_WIDTH)},
        model_dir / "wav2vec2bert_stats.pt",
    )
    rows = sum(cfg["emo_num"])
    torch.save(torch.randn(rows, 192), model_dir / "feat1.pt")
    torch.save(torch.randn(rows, cfg["gpt"]["model_dim"]) * 0.1, model_dir / "feat2.pt")

    # A byte-level tiktoken vocabulary: every text encodes, one token per UTF-8 byte.
    ranks = "".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256))
    (model_dir / f"{TOKENIZER}.tiktoken").write_text(ranks)

    aux = model_dir / "hf_cache"
    _write_w2v_bert(aux / "w2v-bert-2.0", w2v_bert)
    torch.save(
        _random_like(CAMPPlus(feat_dim=80, embedding_size=192), seed + 5),
        aux / "campplus_cn_common.bin",
    )
    vocoder = aux / "bigvgan"
    vocoder.mkdir()
    (vocoder / "config.json").write_text(json.dumps(vocoder_config or BIGVGAN))
    bigvgan = BigVGAN(load_hparams_from_json(str(vocoder / "config.json")))
    # PyTorch's own init (not the 0.02 noise): the vocoder then outputs audible-level noise.
    torch.save({"generator": bigvgan.state_dict()}, vocoder / "bigvgan_generator.pt")
    write_reference_clip(model_dir / "voice.wav")
    return model_dir


def build_emotion_model(directory: Path) -> Path:
    """A tiny random Qwen3 with a byte-level tokenizer and a chat template, laid out like
    IndexTTS-2's `qwen0.6bemo4-merge/` (its answers are gibberish, as a random model's are)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(alphabet))}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tokenizer.save_pretrained(directory)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    Qwen3ForCausalLM(config).save_pretrained(directory)
    return directory


def write_reference_clip(path: Path, seconds: float = 1.5, pitch: float = 140.0) -> Path:
    """A voiced-like reference clip (harmonics with a slow vibrato), for conditioning."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = pitch * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8)) * 0.2
    sf.write(path, wave.astype(np.float32), SAMPLE_RATE)
    return path


# A random GPT rarely samples its stop code: tests bound its length (150 codes = 6 s of audio).
TEST_CODES = 150


def tiny_engine(model_dir: Path, **options):
    """An `IndexTTS2Engine` set up for fast tests on a tiny dir (not loaded)."""
    from tts_plugin.engines.indextts2 import IndexTTS2Engine, Sampling

    defaults = {
        "diffusion_steps": 4,
        "sampling": Sampling(max_codes=TEST_CODES),
        "text_normalization": False,
    }
    return IndexTTS2Engine(model_dir, **{**defaults, **options})


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/tiny_checkpoints.py OUT_DIR")
    print(build(Path(sys.argv[1])))
