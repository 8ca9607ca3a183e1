"""The half-precision GPT (IndexTTS-2.5 in bf16, IndexTTS-2 in fp16, weights converted as upstream
does) loads, warms up and speaks on this CPU as on a GPU, and decides as the fp32 GPT does.

Tolerance: a half-precision GPT rounds its weights and every activation, so its logits differ from
fp32's by a few units of the format's precision (bf16 keeps 8 significant bits, 2^-8 = 0.39 %; fp16
11, 0.05 %). We allow 4× that on the tiny GPTs (bf16 2^-6, fp16 2^-9 of the logits' scale; measured
0.34 % and 0.11 %), and ask every greedy decision whose fp32 margin exceeds twice the allowance to be
the same.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from offline import no_network
from tiny_checkpoints import tiny_engine

from tts_plugin.emotion import Emotion
from tts_plugin.engine import SynthesisRequest

pytestmark = pytest.mark.slow
CODES = [5, 17, 300, 42, 42, 100, 7, 256, 128, 64]
TOLERANCE = {"IndexTTS-2.5": 2**-6, "IndexTTS-2": 2**-9}


def half_options(model_dir) -> dict:
    return {"fp16": True} if (model_dir / "bpe.model").exists() else {"bf16": True}


@pytest.fixture(scope="module")
def engines(tiny_model_dir):
    with no_network():
        pair = []
        for options in ({}, half_options(tiny_model_dir)):
            engine = tiny_engine(tiny_model_dir, device="cpu", **options)
            engine.load()  # the warm-up speaks a few codes: the crash this path had was here
            pair.append(engine)
    return pair


def teacher_forced_logits(engine) -> torch.Tensor:
    models = engine._models
    voice = engine._voice(None)
    emotion = engine._emotion(voice, Emotion(preset="happy", intensity=0.7))
    [tokens] = engine._segments("Hello there.", "en")
    with engine._model_call(gpt=True):
        decoder = models.decoder(voice, emotion, tokens, "en", len(CODES) + 2)
        logits = [decoder.start()]
        logits += [decoder.step(torch.tensor([[code]])) for code in CODES]
        decoder.cache.release()
    return torch.cat(logits).float()


def test_the_half_gpt_is_half_and_speaks(engines):
    full, half = engines
    assert full._models.dtype is None
    assert half._models.dtype in (torch.bfloat16, torch.float16)
    audio = np.concatenate(list(half.stream(SynthesisRequest("Hello there."), threading.Event())))
    assert audio.dtype == np.int16 and np.sqrt(np.mean(audio.astype(float) ** 2)) > 300


def test_half_logits_and_decisions_match_fp32(engines):
    full, half = engines
    ours, reference = teacher_forced_logits(half), teacher_forced_logits(full)
    scale = float(reference.abs().max())
    allowance = TOLERANCE[full.generation] * scale
    assert float((ours - reference).abs().max()) <= allowance
    top = reference.topk(2, dim=-1).values
    clear = (top[:, 0] - top[:, 1]) > 2 * allowance  # on the tiny fp16 GPT: most steps
    assert torch.equal(ours.argmax(-1)[clear], reference.argmax(-1)[clear])
