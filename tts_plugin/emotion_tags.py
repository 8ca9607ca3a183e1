"""Inline emotion tags an LLM writes at a sentence start, e.g. `[sad] I'm sorry to hear that.`

A tag is a bracketed preset name with an optional intensity (`[happy]`, `[sad:0.5]`). Small LLMs
also invent tags (`[sirNews:0.6]`) and put them mid-sentence: every bracketed word anywhere in the
text is removed so it is never spoken; only known presets at the start change the emotion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loguru import logger

from tts_plugin.emotion import PRESETS, Emotion, EmotionError

_TAG = re.compile(r"^\s*\[\s*([A-Za-z][A-Za-z _-]{0,23}?)\s*(?::\s*([0-9]*\.?[0-9]+))?\s*\]\s*")
_ANY_TAG = re.compile(r"\s*\[\s*[A-Za-z][A-Za-z _-]{0,23}?\s*(?::\s*[0-9]*\.?[0-9]+)?\s*\]")


@dataclass(frozen=True)
class TaggedText:
    """Text with its leading tag removed, and the emotion the tag named (None if none/unknown)."""

    text: str
    emotion: Emotion | None
    tag: str | None


def split_emotion_tag(text: str) -> TaggedText:
    """Remove every `[tag]` from `text`; read the last of the leading ones as an emotion."""
    emotion: Emotion | None = None
    tag: str | None = None
    while match := _TAG.match(text):
        text = text[match.end() :]
        tag = match.group(0).strip()
        name = match.group(1).strip().lower()
        if name not in PRESETS:
            logger.debug(f"Ignoring unknown emotion tag {tag}")
            continue
        try:
            level = float(match.group(2)) if match.group(2) else None
            emotion = Emotion(preset=name, intensity=level)
        except EmotionError as e:
            logger.debug(f"Ignoring emotion tag {tag}: {e}")
    if _ANY_TAG.search(text):
        logger.debug(f"Removing tags inside {text!r}")
        text = _ANY_TAG.sub("", text)
    return TaggedText(text=text, emotion=emotion, tag=tag)


def tag_instructions() -> str:
    """A system-prompt paragraph that teaches an LLM the tag syntax."""
    names = ", ".join(PRESETS)
    return (
        "You may start a sentence with one emotion tag in square brackets to set how it is "
        f"spoken, for example [sad] or [happy:0.6]. Valid tags: {names}. "
        "Use tags sparingly; never put anything else in square brackets."
    )
