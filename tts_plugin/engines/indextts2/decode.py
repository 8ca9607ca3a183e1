"""Semantic codes one at a time from the IndexTTS GPT, so vocoding can start mid-sentence.

Upstream calls `generate()`, which returns only when the whole segment is decoded. This loop steps
the same model (a generation's `CodeDecoder`, with its own KV cache) with the same sampling
(repetition penalty, temperature, top-k, top-p; one beam, since beams cannot be streamed), yields
each code as it is sampled and checks the cancel flag before every step, so an interruption stops
the GPU within one decode step. Concurrent requests share each step (`step_batch.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from loguru import logger

from tts_plugin.engine import EngineError
from tts_plugin.engine_factory import MAX_CODES
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.generation import CodeDecoder
from tts_plugin.engines.indextts2.step_batch import StepBatcher


@dataclass(frozen=True)
class Sampling:
    """IndexTTS2's generation defaults, minus beam search."""

    temperature: float = 0.8
    top_k: int = 30
    top_p: float = 0.8
    repetition_penalty: float = 10.0
    max_codes: int = MAX_CODES
    # Always the most likely code (after the repetition penalty), as generate(do_sample=False).
    greedy: bool = False
    # Every request's sampling starts from this seed (reproducible codes); None: a fresh one each.
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (self.temperature > 0 and self.top_k >= 1 and 0 < self.top_p <= 1):
            raise EngineError("sampling: need temperature > 0, top_k >= 1, 0 < top_p <= 1")
        if self.repetition_penalty < 1 or self.max_codes < 1:
            raise EngineError("sampling: need repetition_penalty >= 1 and max_codes >= 1")


def sample_codes(
    decoder: CodeDecoder,
    stop_code: int,
    codebook_size: int,
    sampling: Sampling,
    cancel: threading.Event,
    steps: StepBatcher,
    clock: StreamClock,
    generator: object,
    label: str | None = None,
) -> Iterator[int]:
    """Yield semantic codes until the stop code, `cancel`, or the decoder's capacity (the
    segment's code budget, `code_budget.py`), which ends it with a WARNING naming `label` (None:
    a warm-up, which stops early on purpose).

    Only codebook entries (ids below `codebook_size`) and the stop code are ever sampled: the GPT's
    head also scores its start code, which the codec cannot decode (a random GPT favours it).
    The model is shared: each step goes through `steps`, which runs it in one batch with the
    other requests' steps; the KV cache and the random `generator` are this request's own, so its
    codes do not depend on who else is decoding.
    """
    import torch
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList(
        [RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty)]
    )
    if not sampling.greedy:
        processors += [
            TemperatureLogitsWarper(sampling.temperature),
            TopKLogitsWarper(sampling.top_k),
            TopPLogitsWarper(sampling.top_p),
        ]
    logits = steps.start(decoder, clock)
    try:
        ids = torch.arange(logits.size(-1), device=logits.device)
        not_a_code = (ids >= codebook_size) & (ids != stop_code)
        history = decoder.history
        limit = min(sampling.max_codes, decoder.capacity)
        for _ in range(limit):
            if cancel.is_set():
                return
            with torch.inference_mode():
                scores = processors(history, logits.float().masked_fill(not_a_code, -torch.inf))
                if sampling.greedy:
                    code = scores.argmax(dim=-1, keepdim=True)
                else:
                    probabilities = torch.softmax(scores, dim=-1)
                    code = torch.multinomial(probabilities, 1, generator=generator)
            if int(code) == stop_code:
                return
            with steps.away(decoder):
                yield int(code)
            history = torch.cat([history, code.to(history.device)], dim=1)
            logits = steps.step(decoder, code)
        if label is not None:
            logger.warning(
                f"IndexTTS2 ended {label} at its cap of {limit} codes: the model never chose its stop "
                "code (a hard text, or a reference clip it cannot follow)"
            )
    finally:
        steps.leave(decoder)


def request_generator(seed: int | None, device: str):
    """A request's own random generator: `seed`'s, or a fresh one."""
    import torch

    generator = torch.Generator(device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
