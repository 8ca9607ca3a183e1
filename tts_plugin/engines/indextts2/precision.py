"""The GPT's half precision: its weights converted (bf16 on IndexTTS-2.5, fp16 on IndexTTS-2, as
upstream does) and its calls under autocast to that dtype, so fp32 inputs (w2v-BERT features, CAMPPlus
styles) meet half weights correctly, on a GPU and on a CPU alike."""

from __future__ import annotations

import torch


def gpt_autocast(device: str, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast for a GPT call: to `dtype` on `device`'s type, off when the GPT is fp32."""
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)
