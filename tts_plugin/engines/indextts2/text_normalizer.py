"""Upstream's text normalisation for IndexTTS-2: numbers, dates and symbols as words, loaded at start.

Upstream normalises with its `TextNormalizer` (index-tts `indextts/utils/front.py`): WeTextProcessing's
Chinese or English grammar, picked from the text (Chinese characters, no Latin letters, or pinyin
with tone numbers: Chinese), with pinyin tones, names joined by `·` and hyphenated terms protected
from it and English contractions ("where's") expanded first. `indextts25-inference` carries that
class (IndexTTS-2.5 normalises through it by itself); WeTextProcessing comes with the `indextts2`
extra and compiles its Chinese grammar once (about a minute; cached in ~/.cache/indextts25/), which
`load` does so no request waits for it. A `glossary.yaml` in the model dir (terms and how to read
them) is applied as upstream applies it. Without WeTextProcessing the text goes through NeMo's
grammars by language instead (IndexTTS-2.5's own fallback), with a WARNING at load.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

MISSING = (
    "WeTextProcessing is not installed: text is normalised by NeMo's grammars instead of upstream's "
    '(pip install -c constraints.txt -e ".[indextts2]" brings it)'
)


class TextNormalizer:
    """IndexTTS-2's normaliser: upstream's when WeTextProcessing is there, else NeMo's."""

    def __init__(self, glossary: Path) -> None:
        from indextts25.utils.front import TextNormalizer as Upstream

        self._upstream = Upstream(enable_glossary=True)
        if glossary.is_file():
            self._upstream.load_glossary_from_yaml(str(glossary))
        self._ready = False

    def load(self) -> bool:
        """Build (or read the cached) grammars; False, with a WARNING, when they are missing."""
        self._ready = self._upstream.load()
        if not self._ready:
            logger.warning(MISSING)
        return self._ready

    def normalize(self, text: str, language: str) -> str:
        """`text` as upstream normalises it (the grammar from the text), or NeMo's by `language`."""
        if self._ready:
            return self._upstream.normalize(text, None)
        from indextts25.utils.nemo_tn import normalize_text

        return normalize_text(text, language)
