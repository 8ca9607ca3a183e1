"""Golden outputs of upstream's IndexTTS-2 code on the tiny v2 checkpoints, stage by stage.

Our v2 model code (`tts_plugin/engines/indextts2/`) must reproduce these; `test_indextts2_v2_golden.py`
rebuilds the same tiny dir (seeded numpy: bit-identical) and compares. This script runs upstream's
v2 modules — `indextts2-inference` 2.1.1 from PyPI, a repackaging of index-tts's v2 code — in a
throwaway environment outside the project, because that code imports torchaudio:

    python -m venv --system-site-packages /tmp/v2ref   # sees this machine's torch 2.13 CPU
    /tmp/v2ref/bin/pip install --no-deps indextts2-inference==2.1.1 torchaudio==2.11.0 json5 munch
    /tmp/v2ref/bin/pip install "transformers>=5.0,<5.18"   # 5.18+ breaks its generate() wrapper
    rm /tmp/v2ref/lib/python3.11/site-packages/torchaudio/lib/*.so   # built for torch 2.11; the
        # pure-Python Resample and kaldi fbank that upstream uses need none of it
    /tmp/v2ref/bin/python tests/make_v2_goldens.py tests/data/indextts2_v2_goldens.npz

Upstream's text normaliser (WeTextProcessing) is left out (identity), so the texts below use only
punctuation it would leave alone. Each stage is fed upstream's own previous output, so a
difference points at one stage.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TEXTS = {
    "en": "Hello there, how are you today? I am fine - thank you. Once upon a time, in a small "
    "village by the sea, there lived an old fisherman!",
    "zh": "你好,今天天气很好.我们一起去公园散步吧!",
    "mixed": "Hello 你好, the train leaves at nine.",
}
GPT_TEXT = "Hello there, how are you today?"
CODE_PREFIX = [5, 17, 300, 42, 42, 511, 0, 256, 128, 64]  # logits after each of these codes
GREEDY_CODES = 40
EMOTION_WEIGHTS = [0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.2, 0.0]
EMOTION_ALPHA = 0.6
DIFFUSION_STEPS = 4
CFG_RATE = 0.7
NOISE_SEED = 1234
SEGMENT_LIMITS = (120, 20)


def main(out: Path) -> None:
    import librosa
    import torch
    import torchaudio
    from indextts.emotion import find_most_similar_cosine
    from indextts.gpt.model_v2 import UnifiedVoice
    from indextts.s2mel.modules.audio import mel_spectrogram
    from indextts.s2mel.modules.bigvgan import bigvgan
    from indextts.s2mel.modules.campplus.DTDNN import CAMPPlus
    from indextts.s2mel.modules.commons import MyModel, load_checkpoint2
    from indextts.utils.checkpoint import load_checkpoint
    from indextts.utils.front import TextTokenizer
    from indextts.utils.maskgct_utils import build_semantic_codec
    from omegaconf import OmegaConf
    from safetensors.torch import load_model
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertModel

    sys.path[:0] = [str(HERE), str(HERE.parent)]
    from tiny_checkpoints import write_reference_clip
    from tiny_checkpoints_v2 import build

    torch.set_grad_enabled(False)
    root = build(Path(tempfile.mkdtemp()) / "v2")
    aux = root / "hf_cache"
    cfg = OmegaConf.load(root / "config.yaml")
    golden: dict[str, np.ndarray] = {}

    def keep(name: str, value) -> None:
        if torch.is_tensor(value):
            value = value.detach().float() if value.is_floating_point() else value.long()
            value = value.numpy()
        golden[name] = np.asarray(value)

    # ---- models, as upstream's IndexTTS2.__init__ builds them ----
    gpt = UnifiedVoice(**cfg.gpt)
    load_checkpoint(gpt, str(root / "gpt.pth"))  # strict
    gpt.eval()
    gpt.post_init_gpt2_config(use_deepspeed=False, kv_cache=True, half=False)
    extract = SeamlessM4TFeatureExtractor.from_pretrained(aux / "w2v-bert-2.0")
    w2v = Wav2Vec2BertModel.from_pretrained(aux / "w2v-bert-2.0").eval()
    stats = torch.load(root / "wav2vec2bert_stats.pt")
    mean, std = stats["mean"], torch.sqrt(stats["var"])
    codec = build_semantic_codec(cfg.semantic_codec)
    load_model(codec, str(aux / "semantic_codec_model.safetensors"))  # strict
    s2mel = MyModel(cfg.s2mel, use_gpt_latent=True)
    s2mel, *_ = load_checkpoint2(s2mel, None, str(root / "s2mel.pth"), load_only_params=True)
    saved = torch.load(root / "s2mel.pth")["net"]
    for name, module in s2mel.models.items():  # upstream loads leniently: prove nothing was skipped
        assert set(saved[name]) == set(module.state_dict()), name
    s2mel.models["cfm"].estimator.setup_caches(max_batch_size=1, max_seq_length=8192)
    s2mel.eval()
    campplus = CAMPPlus(feat_dim=80, embedding_size=192)
    campplus.load_state_dict(torch.load(aux / "campplus_cn_common.bin"))
    campplus.eval()
    vocoder = bigvgan.BigVGAN.from_pretrained(str(aux / "bigvgan"), use_cuda_kernel=False)
    vocoder.remove_weight_norm()
    vocoder.eval()
    tokenizer = TextTokenizer(str(root / "bpe.model"), None)
    sizes = list(cfg.emo_num)
    emo_matrix = torch.split(torch.load(root / "feat2.pt"), sizes)
    spk_matrix = torch.split(torch.load(root / "feat1.pt"), sizes)
    spect = cfg.s2mel.preprocess_params.spect_params
    mel_args = dict(
        n_fft=spect.n_fft, win_size=spect.win_length, hop_size=spect.hop_length,
        num_mels=spect.n_mels, sampling_rate=cfg.s2mel.preprocess_params.sr, fmin=0, fmax=None,
        center=False,
    )  # fmt: skip

    def features(audio_16k):
        inputs = extract(audio_16k, sampling_rate=16000, return_tensors="pt")
        out = w2v(
            input_features=inputs["input_features"],
            attention_mask=inputs["attention_mask"],
            output_hidden_states=True,
        )
        return (out.hidden_states[17] - mean) / std

    def lengths(x):
        return torch.tensor([x.shape[-1]])

    # ---- text ----
    for name, text in TEXTS.items():
        pieces = tokenizer.tokenize(text)
        keep(f"text_{name}_ids", tokenizer.convert_tokens_to_ids(pieces))
        for limit in SEGMENT_LIMITS:
            segments = tokenizer.split_segments(pieces, limit)
            keep(f"text_{name}_segments{limit}", [len(s) for s in segments])

    # ---- reference conditioning (infer_generator's speaker branch) ----
    clip = root / "voice.wav"
    audio, sr = librosa.load(clip)
    audio = torch.tensor(audio).unsqueeze(0)[:, : 15 * sr]
    audio_22k = torchaudio.transforms.Resample(sr, 22050)(audio)
    audio_16k = torchaudio.transforms.Resample(sr, 16000)(audio)
    speaker = features(audio_16k)
    keep("speaker_features", speaker)
    _, quantized = codec.quantize(speaker)
    keep("reference_quantized", quantized)
    ref_mel = mel_spectrogram(audio_22k.float(), **mel_args)
    keep("reference_mel", ref_mel)
    fbank = torchaudio.compliance.kaldi.fbank(
        audio_16k, num_mel_bins=80, dither=0, sample_frequency=16000
    )
    style = campplus((fbank - fbank.mean(dim=0, keepdim=True)).unsqueeze(0))
    keep("style", style)
    prompt = s2mel.models["length_regulator"](
        quantized, ylens=torch.LongTensor([ref_mel.size(2)]), n_quantizers=3, f0=None
    )[0]
    keep("prompt_condition", prompt)
    own_emotion = features(torch.tensor(librosa.load(clip, sr=16000)[0]).unsqueeze(0))
    keep("own_emotion_features", own_emotion)
    latents = gpt.get_conditioning(speaker.transpose(1, 2), lengths(speaker))
    keep("speaker_latents", latents)

    # ---- emotion: the voice's own, a reference clip with alpha, a vector ----
    emovec = gpt.merge_emovec(speaker, own_emotion, lengths(speaker), lengths(own_emotion), 1.0)
    keep("emotion_own", emovec)
    other = write_reference_clip(root / "angry.wav", pitch=260.0)
    other_features = features(torch.tensor(librosa.load(other, sr=16000)[0]).unsqueeze(0))
    keep("emotion_reference", gpt.merge_emovec(
        speaker, other_features, lengths(speaker), lengths(other_features), EMOTION_ALPHA
    ))  # fmt: skip
    weights = torch.tensor(EMOTION_WEIGHTS)
    picks = [find_most_similar_cosine(style, m) for m in spk_matrix]
    mix = torch.cat([m[i].unsqueeze(0) for i, m in zip(picks, emo_matrix, strict=True)], 0)
    keep("emotion_vector", (weights.unsqueeze(1) * mix).sum(0).unsqueeze(0)
         + (1 - weights.sum()) * emovec)  # fmt: skip

    # ---- GPT: logits for a fixed text and code prefix, greedy codes, latents ----
    text_tokens = torch.tensor(
        tokenizer.convert_tokens_to_ids(tokenizer.tokenize(GPT_TEXT)), dtype=torch.int32
    ).unsqueeze(0)
    keep("gpt_text_ids", text_tokens[0])
    speeds = torch.zeros(1).long()
    conditioning = torch.cat(
        (latents + emovec.unsqueeze(1), gpt.speed_emb(torch.ones_like(speeds)).unsqueeze(1),
         gpt.speed_emb(speeds).unsqueeze(1)), 1,
    )  # fmt: skip
    ids, prefix, mask = gpt.prepare_gpt_inputs(conditioning, text_tokens)
    model = gpt.inference_model
    model.store_mel_emb(prefix)
    # Stepped as generate() steps it: the prefix and start code, then one code at a time with
    # the KV cache and an attention mask one longer each step.
    step = model(input_ids=ids, attention_mask=mask, use_cache=True, return_dict=True)
    logits = [step.logits[:, -1]]
    for code in CODE_PREFIX:
        mask = torch.cat([mask, mask.new_ones(1, 1)], 1)
        step = model(
            input_ids=torch.tensor([[code]]), attention_mask=mask,
            past_key_values=step.past_key_values, use_cache=True, return_dict=True,
        )  # fmt: skip
        logits.append(step.logits[:, -1])
    keep("gpt_logits", torch.cat(logits))
    generated, _ = gpt.inference_speech(
        speaker, text_tokens, own_emotion, cond_lengths=lengths(speaker),
        emo_cond_lengths=lengths(own_emotion), emo_vec=emovec, do_sample=False, num_beams=1,
        repetition_penalty=10.0, max_generate_length=GREEDY_CODES,
    )  # fmt: skip
    generated = generated[:, :GREEDY_CODES]
    if (generated == gpt.stop_mel_token).any():
        generated = generated[:, : int((generated[0] == gpt.stop_mel_token).nonzero()[0])]
    keep("greedy_codes", generated[0])
    n = torch.tensor([generated.size(1)])
    latent = gpt(
        latents, text_tokens, torch.tensor([text_tokens.size(1)]), generated, n, own_emotion,
        cond_mel_lengths=lengths(speaker), emo_cond_mel_lengths=lengths(own_emotion),
        emo_vec=emovec, use_speed=speeds,
    )  # fmt: skip
    keep("latents", latent)

    # ---- s2mel and the vocoder ----
    semantic = codec.quantizer.vq2emb(generated.unsqueeze(1)).transpose(1, 2)
    semantic = semantic + s2mel.models["gpt_layer"](latent)
    keep("semantic_features", semantic)
    cond = s2mel.models["length_regulator"](
        semantic, ylens=(n * 1.72).long(), n_quantizers=3, f0=None
    )[0]
    keep("condition", cond)
    joined = torch.cat([prompt, cond], 1)
    torch.manual_seed(NOISE_SEED)
    mel = s2mel.models["cfm"].inference(
        joined, torch.LongTensor([joined.size(1)]), ref_mel, style, None, DIFFUSION_STEPS,
        inference_cfg_rate=CFG_RATE,
    )[:, :, ref_mel.size(-1) :]  # fmt: skip
    keep("mel", mel)
    keep("wav", vocoder(mel.float()).squeeze())

    np.savez_compressed(out, **golden)
    print(f"{out}: {len(golden)} arrays, {out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(
            "usage: python tests/make_v2_goldens.py OUT.npz  (in the reference env, see above)"
        )
    main(Path(sys.argv[1]))
