"""The preallocated-KV decode step gives the codes transformers' growing cache gives, on both
generations' tiny GPTs; its fixed-shape (CUDA-graph) step equals the sliced one; where CUDA
exists, the captured graph gives the eager step's codes.

The reference here is the decode loop as it ran before the static cache: each generation's GPT
through transformers' own forward with its `DynamicCache` (for IndexTTS-2.5, the inference model
upstream's generate() drives). Tolerance: the same float32 operations in the same order except
the attention's mask handling, so logits agree to 1e-5 of their largest magnitude (measured:
bit-exact against the growing cache on both generations, the masked step within 8e-7) and
codes exactly.
"""

from __future__ import annotations

import threading

import pytest
import torch
from offline import no_network
from tiny_checkpoints import tiny_engine

from tts_plugin.emotion import Emotion
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.decode import Sampling, request_generator, sample_codes
from tts_plugin.engines.indextts2.static_kv import StaticGPT2

pytestmark = pytest.mark.slow
CODES = 40
TEXT = "Hello there, this is a longer sentence for streaming."


class DynamicCacheDecoder:
    """The decode step through transformers' forward and its growing cache (the old path)."""

    def __init__(self, engine, decoder) -> None:
        self._v25 = engine.generation == "IndexTTS-2.5"
        self._decoder = decoder
        self._past = None
        self.history, self.capacity = decoder.history, decoder.capacity
        self._fed = 0

    def start(self) -> torch.Tensor:
        d = self._decoder
        if self._v25:
            model = d._model
            model.store_mel_emb(d._prefix)
            out = model(input_ids=self.history, use_cache=True, return_dict=True)
            self._past = out.past_key_values
            return out.logits[:, -1]
        gpt = d._gpt
        start = torch.tensor([[gpt.start_mel_token]])
        embeddings = torch.cat([d._prefix, gpt.code_embeddings(start, 0)], 1)
        out = gpt.gpt(inputs_embeds=embeddings, use_cache=True)
        self._past = out.past_key_values
        self._past.batch_repeat_interleave(2)
        return gpt.mel_head(gpt.final_norm(out.last_hidden_state[:, -1:]))[:, -1]

    def step(self, code: torch.Tensor) -> torch.Tensor:
        d = self._decoder
        self._fed += 1
        if self._v25:
            out = d._model(input_ids=code, past_key_values=self._past, use_cache=True)
            self._past = out.past_key_values
            return out.logits[:, -1]
        gpt = d._gpt
        rows = torch.cat(
            [gpt.code_embeddings(code, self._fed + 1), gpt.code_embeddings(code, self._fed)]
        )
        out = gpt.gpt(inputs_embeds=rows, past_key_values=self._past, use_cache=True)
        self._past = out.past_key_values
        return gpt.mel_head(gpt.final_norm(out.last_hidden_state[:1]))[:, -1]


def new_decoder(engine, max_codes: int = CODES):
    models = engine._models
    voice = engine._voice(None)
    emotion = engine._emotion(voice, Emotion(preset="happy"))
    tokens = engine._segments(TEXT, "en")[0]
    with engine._model_call(gpt=True):
        return models.decoder(voice, emotion, tokens, "en", max_codes)


def codes(engine, decoder, sampling: Sampling) -> list[int]:
    models = engine._models
    return list(
        sample_codes(
            decoder, models.stop_code, models.codebook_size, sampling,
            threading.Event(), engine._steps, StreamClock(), request_generator(7, models.device),
        )
    )  # fmt: skip


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    scale = b.abs().max().item()
    assert (a - b).abs().max().item() <= 1e-5 * scale


def test_logits_equal_the_growing_cache_for_the_same_codes(indextts2_engine):
    engine = indextts2_engine
    fed = [3, 17, 5, 0, 22, 9, 31, 11]
    ours, reference = new_decoder(engine), None
    with engine._model_call(gpt=True):
        reference = DynamicCacheDecoder(engine, new_decoder(engine))
        close(ours.start(), reference.start())
        for code in fed:
            close(ours.step(torch.tensor([[code]])), reference.step(torch.tensor([[code]])))


@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "seeded"])
def test_codes_equal_the_growing_cache(indextts2_engine, greedy):
    engine = indextts2_engine
    sampling = Sampling(greedy=greedy, max_codes=CODES)
    ours = codes(engine, new_decoder(engine), sampling)
    reference = codes(engine, DynamicCacheDecoder(engine, new_decoder(engine)), sampling)
    assert len(ours) >= 10
    assert ours == reference


def test_the_fixed_shape_step_equals_the_sliced_step(indextts2_engine):
    """What a CUDA graph captures (the masked step over the whole buffer at a device-tensor
    position), run eagerly here, against the step that reads only the written positions."""
    engine = indextts2_engine
    models = engine._models
    gpt = models._tts.gpt.inference_model.transformer if models.label == "IndexTTS-2.5" else None
    gpt = gpt or models.gpt.gpt
    width = gpt.config.n_embd
    generator = torch.Generator().manual_seed(3)
    prefix = torch.randn(1, 12, width, generator=generator)
    sliced = StaticGPT2(gpt, 2, 40)
    masked = StaticGPT2(gpt, 2, 40, zeroed=True)
    with torch.inference_mode():
        close(masked.forward(prefix), sliced.forward(prefix))
        for _ in range(6):
            x = torch.randn(2, 1, width, generator=generator)
            masked.position.fill_(masked.length)
            close(masked.masked_step(x), sliced.forward(x))
            masked.length += 1


def test_a_request_never_outgrows_its_cache(indextts2_engine):
    engine = indextts2_engine
    decoder = new_decoder(engine, max_codes=5)
    produced = codes(engine, decoder, Sampling(greedy=True, max_codes=1500))
    assert len(produced) <= 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "seeded"])
def test_cuda_graphs_give_the_eager_steps_codes(tiny_model_dir, greedy):
    runs = {}
    for graphs in (False, True):
        with no_network():
            engine = tiny_engine(tiny_model_dir, device="cuda", cuda_graphs=graphs, warm_up=False)
            engine.load()
        sampling = Sampling(greedy=greedy, max_codes=CODES)
        runs[graphs] = codes(engine, new_decoder(engine), sampling)
    assert len(runs[True]) >= 10
    assert runs[True] == runs[False]
