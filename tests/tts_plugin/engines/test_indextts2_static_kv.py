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
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from offline import no_network
from tiny_checkpoints import tiny_engine

from tts_plugin.emotion import Emotion
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.decode import Sampling, request_generator, sample_codes
from tts_plugin.engines.indextts2.static_kv import KVPool

pytestmark = pytest.mark.slow
CODES = 40
TEXT = "Hello there, this is a longer sentence for streaming."


@pytest.fixture(autouse=True)
def slots_given_back(indextts2_engine):
    """Decoders stepped by hand here never leave a decode batch: give their slots back."""
    yield
    for owner in indextts2_engine._models.pool._owners:
        if owner is not None:
            owner.release()


class DynamicCacheDecoder:
    """The decode step through transformers' forward and its growing cache (the old path)."""

    def __init__(self, engine, decoder) -> None:
        self._v25 = engine.generation == "IndexTTS-2.5"
        self._decoder = decoder
        self._past = None
        self.history, self.capacity = decoder.history, decoder.capacity
        self.cache = decoder.cache  # unused for its steps; given back when it leaves
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


def test_a_requests_step_is_the_same_alone_beside_others_away_and_after_a_move(indextts2_engine):
    """The bucket step (what a CUDA graph captures, run eagerly here): a request's hidden states do
    not depend on the bucket it is padded to, on neighbours stepping or away (their zero rows write
    to the buffer's last position), or on moving to a freed slot when another request leaves."""
    models = indextts2_engine._models
    gpt = models.pool._gpt
    rows, width = models.pool.rows, gpt.config.n_embd
    pool = KVPool(gpt, 4, rows, 40, None)
    generator = torch.Generator().manual_seed(3)

    def random(*shape):
        return torch.randn(*shape, generator=generator)

    with torch.inference_mode():
        first, second, third = pool.acquire(), pool.acquire(), pool.acquire()
        prefix = random(1, 12, width)
        for cache in (first, second, third):
            cache.prefix(prefix)
        reference = KVPool(gpt, 1, rows, 40, None)
        alone = reference.acquire()
        alone.prefix(prefix)
        for step in range(6):
            x, y = random(rows, 1, width), random(rows, 1, width)
            expected = alone.step(x)
            if step % 2:  # beside another request, padded to a bucket of 4
                got, _ = pool.step([third, second], [x, y])
            else:  # the others away, in a bucket of 4 (third sits in slot 2)
                got = pool.step([third], [x])[0]
            close(got, expected)
        pool.release(first)  # third moves into slot 0
        assert (third.slot, second.slot) == (0, 1)
        for _ in range(3):
            x = random(rows, 1, width)
            close(pool.step([third], [x])[0], alone.step(x))
    assert pool.acquire().slot == 2  # slots stay packed


def test_a_request_never_outgrows_its_cache(indextts2_engine):
    engine = indextts2_engine
    decoder = new_decoder(engine, max_codes=5)
    produced = codes(engine, decoder, Sampling(greedy=True, max_codes=1500))
    assert len(produced) <= 5


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


def concurrent_codes(engine, sampling: Sampling, requests: int) -> list[list[int]]:
    decoders = [new_decoder(engine) for _ in range(requests)]
    with ThreadPoolExecutor(requests) as pool:
        runs = [pool.submit(codes, engine, d, sampling) for d in decoders]
        return [run.result(timeout=120) for run in runs]


@CUDA
@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "seeded"])
def test_cuda_graphs_give_the_eager_steps_codes_with_four_concurrent_requests(
    tiny_model_dir, greedy
):
    runs = {}
    for graphs in (False, True):
        with no_network():
            engine = tiny_engine(tiny_model_dir, device="cuda", cuda_graphs=graphs, max_batch=4)
            engine.load()  # graphs are captured here, once, after the warm-up
        assert bool(engine._models.pool._graphs) == graphs
        sampling = Sampling(greedy=greedy, max_codes=CODES)
        runs[graphs] = concurrent_codes(engine, sampling, 4)
    assert all(len(c) >= 10 for c in runs[True])
    assert runs[True] == runs[False]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs a second CUDA device")
def test_cuda_graphs_on_a_second_device(tiny_model_dir):
    with no_network():
        engine = tiny_engine(tiny_model_dir, device="cuda:1", max_batch=2)
        engine.load()
    assert engine._models.pool.device == torch.device("cuda:1") and engine._models.pool._graphs
    [produced] = concurrent_codes(engine, Sampling(greedy=True, max_codes=CODES), 1)
    assert len(produced) >= 10  # an empty graph would replay nothing: the stop never comes
