"""An IndexTTS-2 or IndexTTS-2.5 checkpoints dir with the released shapes and random weights.

    python benchmarks/indextts2_real_size.py OUT_DIR                   # IndexTTS-2
    python benchmarks/indextts2_real_size.py OUT_DIR --generation 2.5  # IndexTTS-2.5

Random weights with the released architecture cost what the real ones cost, step for step (only
the audio is noise, and a random GPT never stops, so benchmarks force the length). Every file the
engine's loader reads is written, in upstream's flat `hf_cache/` layout, by the same seeded-numpy
writer as the tiny test dirs (`tests/tiny_checkpoints_v2.py`), so the dir is the same every time.
The Qwen emotion model is left out (descriptions then use the lexicon).

Where each shape comes from:
- config.yaml (GPT 24 × 1280, 20 heads, text vocabulary 12000, 8194 mel codes, Conformer/Perceiver
  speaker and emotion conditioning, semantic codec 8192 × 8, s2mel DiT 13 × 512 with an 8-layer
  WaveNet head, length regulator 512 wide, emo_num [3, 17, 2, 8, 4, 5, 10, 24]): the released
  IndexTeam/IndexTTS-2 `checkpoints/config.yaml`, as public forks of index-tts carry it verbatim
  (e.g. ComfyUI-IndexTTS2's `checkpoints/config.yaml`).
- w2v-BERT 2.0: transformers' `Wav2Vec2BertConfig()` defaults, which are facebook/w2v-bert-2.0's
  (1024 wide, 24 layers, 16 heads, 4096 feed-forward); the engine reads layers 1-17.
- BigVGAN v2 22 kHz 80-band 256×: nvidia/bigvgan_v2_22khz_80band_256x's `config.json` values
  (upsample rates 4,4,2,2,2,2, kernels 8,8,4,4,4,4, 1536 initial channels, resblocks 3/7/11 with
  dilations 1,3,5, snake-beta), as public ports of that config carry them.
- CAMPPlus: feat_dim 80, embedding 192, the only shape upstream builds.
- voice.wav: an 8 s voiced-like clip (the engine's default voice).
- bpe.model: the tests' small SentencePiece model (its ids sit inside the 12000-token table; the
  cost of a step does not depend on which ids the text has).

IndexTTS-2.5 (`RELEASED_CONFIG_25`), each value from IndexTeam/IndexTTS-2.5's `config.yaml` at tag
v2.5.0 as Bonenk/CrispASR `docs/indextts2-port-notes.md` cites it line by line and reads it off the
released checkpoints (§2 "Constants", §3 tensor shapes):
- GPT: 1280 wide (`config.yaml:14`), 24 layers and 20 heads (`:17,20`), 1815 mel and 600 text
  positions (`:15-16`), 60,509 text tokens (`:21`), 8194 mel codes with start 8192 and stop 8193
  (`:22-24`); conditioned by CAMPPlus through `spk_emb_proj` 192 → 1280 and the emotion Conformer
  (4 blocks × 512, 4 heads, 1024 units, conv2d2: `:36-42`) + Perceiver.
- codec: FVQ 8192 × 8 over 1024 wide (`:44,46`), Vocos decoder 384 wide, 2048 intermediate, 12
  ConvNeXt layers (`:47-49`).
- s2mel: as IndexTTS-2's (DiT 13 × 512, 8 heads, WaveNet 8 layers kernel 5, length regulator 512
  from 1024 with 4 sampling ratios: `:64-104`, and the tensor shapes of §3.2 match v2's config).
- `emo_num` [3, 17, 2, 8, 4, 5, 10, 24] (`:110`); w2v-BERT, CAMPPlus and BigVGAN as for IndexTTS-2.
- the tokeniser: the tests' byte-level tiktoken file (its ids sit inside the 60,509-token table).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import tiny_checkpoints  # noqa: E402
import tiny_checkpoints_v2  # noqa: E402
from tiny_checkpoints import BIGVGAN, write_reference_clip  # noqa: E402

RELEASED_CONFIG = {
    "dataset": {"bpe_model": "bpe.model", "sample_rate": 24000, "squeeze": False},
    "gpt": {
        "model_dim": 1280,
        "max_mel_tokens": 1815,
        "max_text_tokens": 600,
        "heads": 20,
        "use_mel_codes_as_input": True,
        "mel_length_compression": 1024,
        "layers": 24,
        "number_text_tokens": 12000,
        "number_mel_codes": 8194,
        "start_mel_token": 8192,
        "stop_mel_token": 8193,
        "start_text_token": 0,
        "stop_text_token": 1,
        "train_solo_embeddings": False,
        "condition_type": "conformer_perceiver",
        "condition_module": {
            "output_size": 512,
            "linear_units": 2048,
            "attention_heads": 8,
            "num_blocks": 6,
            "input_layer": "conv2d2",
            "perceiver_mult": 2,
        },
        "emo_condition_module": {
            "output_size": 512,
            "linear_units": 1024,
            "attention_heads": 4,
            "num_blocks": 4,
            "input_layer": "conv2d2",
            "perceiver_mult": 2,
        },
    },
    "semantic_codec": {
        "codebook_size": 8192,
        "hidden_size": 1024,
        "codebook_dim": 8,
        "vocos_dim": 384,
        "vocos_intermediate_dim": 2048,
        "vocos_num_layers": 12,
    },
    "s2mel": {
        "preprocess_params": {
            "sr": 22050,
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
        "reg_loss_type": "l1",
        "style_encoder": {"dim": 192},
        "length_regulator": {
            "channels": 512,
            "is_discrete": False,
            "in_channels": 1024,
            "content_codebook_size": 2048,
            "sampling_ratios": [1, 1, 1, 1],
            "vector_quantize": False,
            "n_codebooks": 1,
            "quantizer_dropout": 0.0,
            "f0_condition": False,
            "n_f0_bins": 512,
        },
        "DiT": {
            "hidden_dim": 512,
            "num_heads": 8,
            "depth": 13,
            "class_dropout_prob": 0.1,
            "block_size": 8192,
            "in_channels": 80,
            "style_condition": True,
            "final_layer_type": "wavenet",
            "target": "mel",
            "content_dim": 512,
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
            "hidden_dim": 512,
            "num_layers": 8,
            "kernel_size": 5,
            "dilation_rate": 1,
            "p_dropout": 0.2,
            "style_condition": True,
        },
    },
    "gpt_checkpoint": "gpt.pth",
    "w2v_stat": "wav2vec2bert_stats.pt",
    "s2mel_checkpoint": "s2mel.pth",
    "emo_matrix": "feat2.pt",
    "spk_matrix": "feat1.pt",
    "emo_num": [3, 17, 2, 8, 4, 5, 10, 24],
    "qwen_emo_path": "qwen0.6bemo4-merge/",
    "vocoder": {"type": "bigvgan", "name": "nvidia/bigvgan_v2_22khz_80band_256x"},
    "version": 2.0,
}

RELEASED_BIGVGAN = {
    **BIGVGAN,
    "upsample_rates": [4, 4, 2, 2, 2, 2],
    "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
    "upsample_initial_channel": 1536,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
}


RELEASED_CONFIG_25 = {
    "gpt_checkpoint": "gpt.pth",
    "s2mel_checkpoint": "s2mel.pth",
    "w2v_stat": "wav2vec2bert_stats.pt",
    "emo_matrix": "feat2.pt",
    "spk_matrix": "feat1.pt",
    "emo_num": [3, 17, 2, 8, 4, 5, 10, 24],
    "gpt": {
        "model_dim": 1280,
        "layers": 24,
        "heads": 20,
        "max_text_tokens": 600,
        "max_mel_tokens": 1815,
        "number_text_tokens": 60509,
        "number_mel_codes": 8194,
        "start_mel_token": 8192,
        "stop_mel_token": 8193,
        "start_text_token": 0,
        "stop_text_token": 1,
        "emo_condition_module": {
            "output_size": 512,
            "linear_units": 1024,
            "attention_heads": 4,
            "num_blocks": 4,
            "input_layer": "conv2d2",
            "perceiver_mult": 2,
        },
    },
    "semantic_codec": {
        "codebook_size": 8192,
        "hidden_size": 1024,
        "codebook_dim": 8,
        "vocos_dim": 384,
        "vocos_intermediate_dim": 2048,
        "vocos_num_layers": 12,
    },
    "s2mel": RELEASED_CONFIG["s2mel"],
}


def build(out: Path, generation: str) -> None:
    """A released-size dir of `generation` ("2" or "2.5") at `out`."""
    from transformers import Wav2Vec2BertConfig

    builder, cfg = (
        (tiny_checkpoints.build, RELEASED_CONFIG_25)
        if generation == "2.5"
        else (tiny_checkpoints_v2.build, RELEASED_CONFIG)
    )
    builder(
        out,
        cfg=cfg,
        w2v_bert=Wav2Vec2BertConfig(dtype="float32"),
        vocoder_config=RELEASED_BIGVGAN,
    )


def main() -> None:
    args = sys.argv[1:]
    generation = "2"
    if args[1:2] == ["--generation"] and len(args) == 3 and args[2] in ("2", "2.5"):
        generation = args[2]
    elif len(args) != 1:
        sys.exit("usage: python benchmarks/indextts2_real_size.py OUT_DIR [--generation 2|2.5]")
    out = Path(args[0])
    started = time.perf_counter()
    build(out, generation)
    # A reference as long as users give (the tiny dirs' is 1.5 s): the DiT's in-context prompt
    # is its first 6 s, and its length sets every chunk's DiT cost.
    write_reference_clip(out / "voice.wav", seconds=8.0)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{out}: {size / 2**30:.2f} GiB on disk, built in {time.perf_counter() - started:.0f} s, "
        f"peak RSS {peak:.1f} GiB"
    )


if __name__ == "__main__":
    main()
