"""IndexTTS2's emotion-from-text model: a Qwen3-0.6B fine-tune that scores the eight emotions.

IndexTTS-2 ships it as `qwen0.6bemo4-merge/`; when that dir is in the model dir, descriptions are
scored by it (as upstream's `use_emo_text`), otherwise by the keyword lexicon in `emotion_text.py`.
It answers with JSON keyed by Chinese emotion names. As upstream's `QwenEmotion` (index-tts
`indextts/infer_v2.py`): the answer is generated with the dir's own generation settings and room for
all of it (upstream allows 32768 new tokens; eight keys take about 60), parsed as JSON or loose
`key: value` pairs, a bare label (Chinese or English, alone or under `emotion`/`label`/`情感`/`情绪`)
counts as that emotion at 1.0, scores are clamped to [0, 1.2], sad and melancholic swap when the text
names melancholy, and no emotion at all means calm. The scores reach the GPT as upstream's `infer`
uses them: times `emo_alpha`, with no bias or cap (`Emotion.model_vector` is for vectors a user gives).

The model is separate from the speech models, so it runs outside their lock (under its own): a
description costs its request about a second on a GPU but never stalls the other streams.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from pathlib import Path

from tts_plugin.emotion import EMOTION_DIMENSIONS

DIR_NAME = "qwen0.6bemo4-merge"
_PROMPT = "文本情感分类"  # "text emotion classification", the system prompt it was tuned on
# Its answer's keys, in IndexTTS2's vector order (happy … calm).
_KEYS = ("高兴", "愤怒", "悲伤", "恐惧", "反感", "低落", "惊讶", "自然")
_ENGLISH = dict(zip(EMOTION_DIMENSIONS, _KEYS, strict=True))
_LABEL_KEYS = ("emotion", "emotion_label", "label", "情感", "情绪")
_MAX_SCORE = 1.2
_THINK_END = "</think>"
# Upstream swaps sad and melancholic when the text names melancholy: the model confuses the two.
_MELANCHOLIC_WORDS = ("低落", "melancholy", "melancholic", "depression", "depressed", "gloomy")
_PAIR = re.compile(r'([^\s":.,{}]+?)"?\s*:\s*([\d.]+)')
MAX_ANSWER_TOKENS = 512
SCORED = 64  # descriptions whose scores stay cached


def _label(value: object) -> str | None:
    """The Chinese key a label names (`"高兴"`, `"happy"`), or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value in _KEYS else _ENGLISH.get(value.lower())


def parse_scores(answer: str, description: str) -> tuple[float, ...]:
    """The model's answer as upstream reads it: 8 scores in [0, 1.2] in IndexTTS2's order."""
    answer = answer.rsplit(_THINK_END, 1)[-1].strip()
    try:
        content = json.loads(answer)
    except ValueError:
        content = {m.group(1): m.group(2) for m in _PAIR.finditer(answer)}
    named = _label(content) or next(
        (key for alias in _LABEL_KEYS if (key := _label(_dict(content).get(alias)))), None
    )
    scores = _dict(content)
    if named is not None and not any(key in scores for key in _KEYS):
        scores[named] = 1.0
    for key in _KEYS:  # a label where a score belongs: that emotion at 1.0
        if (other := _label(scores.get(key))) is not None:
            scores[key] = 1.0 if other == key else 0.0
            scores.setdefault(other, 1.0)
    if any(word in description.lower() for word in _MELANCHOLIC_WORDS):
        scores["悲伤"], scores["低落"] = scores.get("低落", 0.0), scores.get("悲伤", 0.0)
    vector = [_clamped(scores.get(key, 0.0)) for key in _KEYS]
    if not any(vector):
        vector[EMOTION_DIMENSIONS.index("calm")] = 1.0
    return tuple(vector)


def scaled(scores: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    """The GPT's emotion weights: scores × `emo_alpha` (clamped to 0..1), to 4 decimals, as
    upstream's `infer` scales them."""
    alpha = max(0.0, min(1.0, alpha))
    return tuple(int(score * alpha * 10000) / 10000 for score in scores)


def _dict(content: object) -> dict:
    return dict(content) if isinstance(content, dict) else {}


def _clamped(value: object) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(_MAX_SCORE, max(0.0, value)) if math.isfinite(value) else 0.0


class EmotionModel:
    """The Qwen emotion scorer from a local dir (never downloaded); blocking, call off the loop."""

    def __init__(self, directory: Path, device: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        self._model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
        self._model.to(device).eval()
        self._lock = threading.Lock()
        self._scored: OrderedDict[str, tuple[float, ...]] = OrderedDict()

    def scores(self, description: str) -> tuple[float, ...]:
        """The 8 scores of a description, cached (the oldest of `SCORED` goes first)."""
        with self._lock:
            if description not in self._scored:
                self._scored[description] = parse_scores(self.answer(description), description)
                while len(self._scored) > SCORED:
                    self._scored.popitem(last=False)
            return self._scored[description]

    def answer(self, description: str) -> str:
        """The model's raw answer, generated with its dir's settings."""
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
                max_new_tokens=MAX_ANSWER_TOKENS,
                pad_token_id=self._tokenizer.eos_token_id,
            )
        return self._tokenizer.decode(
            output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
