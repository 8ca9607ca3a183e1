"""IndexTTS2's emotion-from-text model: a Qwen3-0.6B fine-tune that scores the eight emotions.

IndexTTS-2 ships it as `qwen0.6bemo4-merge/`; when that dir is in the model dir, descriptions are
scored by it (as upstream's `use_emo_text`), otherwise by the keyword lexicon in `emotion_text.py`.
The model answers with JSON keyed by Chinese emotion names; parsing follows upstream's QwenEmotion.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from tts_plugin.emotion import EMOTION_DIMENSIONS

DIR_NAME = "qwen0.6bemo4-merge"
_PROMPT = "文本情感分类"  # "text emotion classification", the system prompt it was tuned on
# Its answer's keys, in IndexTTS2's vector order (happy … calm).
_KEYS = ("高兴", "愤怒", "悲伤", "恐惧", "反感", "低落", "惊讶", "自然")
_MAX_SCORE = 1.2
_THINK_END = "</think>"
# Upstream swaps sad and melancholic when the text names melancholy: the model confuses the two.
_MELANCHOLIC_WORDS = ("低落", "melancholy", "melancholic", "depression", "depressed", "gloomy")
_PAIR = re.compile(r'([^\s":.,{}]+?)"?\s*:\s*([\d.]+)')


def scores_to_vector(answer: str, description: str) -> tuple[float, ...]:
    """The model's answer as an 8-dim vector in our order; calm if it names no emotion."""
    answer = answer.rsplit(_THINK_END, 1)[-1].strip()
    try:
        scores = json.loads(answer)
        if not isinstance(scores, dict):
            raise ValueError
    except ValueError:
        scores = {m.group(1): m.group(2) for m in _PAIR.finditer(answer)}
    if any(word in description.lower() for word in _MELANCHOLIC_WORDS):
        scores["悲伤"], scores["低落"] = scores.get("低落", 0.0), scores.get("悲伤", 0.0)
    vector = []
    for key in _KEYS:
        try:
            value = float(scores.get(key, 0.0))
        except (TypeError, ValueError):
            value = 0.0
        vector.append(min(_MAX_SCORE, max(0.0, value)) if math.isfinite(value) else 0.0)
    if not any(vector):
        vector[EMOTION_DIMENSIONS.index("calm")] = 1.0
    # Our vectors live in [0, 1]; the normaliser then applies IndexTTS2's bias and cap.
    return tuple(min(1.0, v) for v in vector)


class EmotionModel:
    """The Qwen emotion scorer from a local dir (never downloaded); blocking, call off the loop."""

    def __init__(self, directory: Path, device: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        self._model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
        self._model.to(device).eval()

    def vector(self, description: str, max_new_tokens: int = 64) -> tuple[float, ...]:
        import torch

        messages = [
            {"role": "system", "content": _PROMPT},
            {"role": "user", "content": description},
        ]
        prompt = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
        )
        inputs = self._tokenizer([prompt], return_tensors="pt").to(self._model.device)
        with torch.inference_mode():
            output = self._model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self._tokenizer.eos_token_id,
            )
        answer = self._tokenizer.decode(
            output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return scores_to_vector(answer, description)
