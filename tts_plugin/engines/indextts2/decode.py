"""Semantic codes one at a time from the IndexTTS GPT, so vocoding can start mid-sentence.

Upstream calls `generate()`, which returns only when the whole segment is decoded. This loop runs
the same model with a KV cache and the same sampling (repetition penalty, temperature, top-k,
top-p; one beam, since beams cannot be streamed), yields each code as it is sampled and checks the
cancel flag before every step, so an interruption stops the GPU within one decode step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from tts_plugin.engine import EngineError


@dataclass(frozen=True)
class Sampling:
    """IndexTTS2's generation defaults, minus beam search."""

    temperature: float = 0.8
    top_k: int = 30
    top_p: float = 0.8
    repetition_penalty: float = 10.0
    max_codes: int = 1500

    def __post_init__(self) -> None:
        if not (self.temperature > 0 and self.top_k >= 1 and 0 < self.top_p <= 1):
            raise EngineError("sampling: need temperature > 0, top_k >= 1, 0 < top_p <= 1")
        if self.repetition_penalty < 1 or self.max_codes < 1:
            raise EngineError("sampling: need repetition_penalty >= 1 and max_codes >= 1")


def sample_codes(
    gpt,
    conditioning,
    text_tokens,
    language,
    sampling: Sampling,
    cancel: threading.Event,
    model_call: Callable[[], AbstractContextManager],
) -> Iterator[int]:
    """Yield semantic codes until the stop code, `max_codes`, or `cancel`.

    `gpt` is IndexTTS-2.5's `UnifiedVoice`; `conditioning` its [speaker+emotion] latent (1, 1, d).
    The model is shared, so each step runs inside `model_call()` (the engine's lock, inference
    mode, autocast); the KV cache is this call's own.
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
        [
            RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty),
            TemperatureLogitsWarper(sampling.temperature),
            TopKLogitsWarper(sampling.top_k),
            TopPLogitsWarper(sampling.top_p),
        ]
    )
    model = gpt.inference_model
    with model_call():
        # [conditioning][2 zero latents][text] then the start code, as upstream's generate() sees it.
        latents = torch.cat((conditioning, conditioning.new_zeros(1, 2, conditioning.size(2))), 1)
        ids, prefix, _ = gpt.prepare_gpt_inputs(latents, text_tokens, language)
        model.store_mel_emb(prefix)
        out = model(input_ids=ids, use_cache=True, return_dict=True)
    history = ids
    for _ in range(sampling.max_codes):
        if cancel.is_set():
            return
        with torch.inference_mode():
            scores = processors(history, out.logits[:, -1, :].float())
            code = torch.multinomial(torch.softmax(scores, dim=-1), 1)
        if int(code) == gpt.stop_mel_token:
            return
        yield int(code)
        history = torch.cat([history, code], dim=1)
        with model_call():
            model.store_mel_emb(prefix)  # another request may have replaced it between steps
            out = model(
                input_ids=code,
                past_key_values=out.past_key_values,
                use_cache=True,
                return_dict=True,
            )
