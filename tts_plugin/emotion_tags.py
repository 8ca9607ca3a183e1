"""Inline emotion tags an LLM writes into its reply, e.g. `[sad] I'm sorry to hear that.`

A tag is a short bracketed group that starts with a letter: a preset name with an optional
intensity (`[happy]`, `[sad:0.5]`, `[happy: 0.9]`, `[excited!]`, `[emotion: calm]`, Chinese
`【开心】`). Small LLMs also invent tags (`[sirNews:0.6]`, `[tone: warm]`) and put them
mid-sentence: every tag, wherever it stands, is removed, so it is never spoken, shown or remembered;
only the known presets change the emotion. `[1]` or `[1.5]` (no letter first) are text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loguru import logger

from tts_plugin.emotion import PRESETS, Emotion, EmotionError

OPENERS = "[【［"
CLOSERS = "]】］"
MAX_TAG_CHARS = 40  # inside the brackets; a longer group is text
TAG = re.compile(
    rf"[{re.escape(OPENERS)}]\s*([^\W\d_][^{re.escape(OPENERS + CLOSERS)}\n]"
    rf"{{0,{MAX_TAG_CHARS - 1}}})[{re.escape(CLOSERS)}]"
)
# Words that introduce the preset rather than name it: `[emotion: sad]`, `[tone: calm]`.
_LEADS = frozenset({"emotion", "tone", "mood", "feeling", "style", "voice"})
_CHINESE_NAMES = {
    "中性": "neutral", "开心": "happy", "高兴": "happy", "快乐": "happy", "生气": "angry",
    "愤怒": "angry", "悲伤": "sad", "难过": "sad", "伤心": "sad", "害怕": "afraid",
    "恐惧": "afraid", "厌恶": "disgusted", "忧郁": "melancholic", "惊讶": "surprised",
    "平静": "calm", "兴奋": "excited", "严肃": "serious", "活泼": "lively",
}  # fmt: skip
_WORDS = re.compile(r"[A-Za-z]+|[\u4e00-\u9fff]+")
_NUMBER = re.compile(r"[0-9]*\.?[0-9]+")


@dataclass(frozen=True)
class Tag:
    """A tag as written, and the emotion it names (None: unknown name or a bad intensity)."""

    text: str
    emotion: Emotion | None


@dataclass(frozen=True)
class TaggedText:
    """Text with every tag removed, and the emotion of the last known tag (None if none)."""

    text: str
    emotion: Emotion | None
    tags: tuple[Tag, ...]


def read_tag(tag: str) -> Tag | None:
    """`tag` (brackets included) as a tag, or None when it is text (`[1]`, too long)."""
    if not TAG.fullmatch(tag.strip()):
        return None
    inside = tag.strip()[1:-1]
    words = [w.lower() for w in _WORDS.findall(inside)]
    if len(words) > 1 and words[0] in _LEADS:
        words = words[1:]
    name = _CHINESE_NAMES.get(words[0], words[0]) if words else ""
    if name not in PRESETS:
        logger.debug(f"Removing unknown emotion tag {tag}")
        return Tag(tag, None)
    level = _NUMBER.search(inside)
    try:
        return Tag(tag, Emotion(preset=name, intensity=float(level.group()) if level else None))
    except EmotionError as e:
        logger.debug(f"Removing emotion tag {tag}: {e}")
        return Tag(tag, None)


def strip_emotion_tags(text: str) -> TaggedText:
    """Remove every tag from `text` (with the space before it); the last known one's emotion."""
    tags = tuple(tag for m in TAG.finditer(text) if (tag := read_tag(m.group())) is not None)
    if not tags:
        return TaggedText(text=text, emotion=None, tags=())
    for tag in tags:
        text = re.sub(rf"\s*{re.escape(tag.text)}", "", text, count=1)
    emotion = next((t.emotion for t in reversed(tags) if t.emotion is not None), None)
    return TaggedText(text=text.strip(), emotion=emotion, tags=tags)


def tag_instructions() -> str:
    """A system-prompt paragraph that teaches an LLM the tag syntax."""
    names = ", ".join(PRESETS)
    return (
        "You may start a sentence with one emotion tag in square brackets to set how it is "
        f"spoken, for example [sad] or [happy:0.6]. Valid tags: {names}. "
        "Use tags sparingly; never put anything else in square brackets."
    )
