"""Golden outputs of upstream's IndexTTS-2 text front end: normalised text and SentencePiece pieces.

Our v2 front end (upstream's `TextNormalizer` as `indextts25-inference` carries it, then `bpe_text.py`)
must reproduce these; `test_indextts2_text_front.py` compares. This script runs upstream's own
`indextts/utils/front.py` from a checkout of index-tts (outside the project; its cases are read out
of that file's `__main__` block, not copied) with WeTextProcessing, which the `indextts2` extra
installs, on upstream's sentences and ours, tokenised with the tests' small `bpe.model`. The front
end needs only its own two modules from the repository (commit ee40fa7):

    mkdir -p /tmp/index-tts/indextts/utils && touch /tmp/index-tts/indextts/{,utils/}__init__.py
    for f in front common; do git -C INDEX_TTS_REPO show ee40fa7:indextts/utils/$f.py \
        > /tmp/index-tts/indextts/utils/$f.py; done
    python tests/make_text_goldens.py /tmp/index-tts ee40fa7 tests/data/indextts2_text_goldens.json

Upstream's front end module imports torchaudio for other helpers; a stub stands in for it. The first
run builds WeTextProcessing's Chinese grammar into the checkout (about a minute).
"""

from __future__ import annotations

import ast
import json
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
BPE_MODEL = HERE / "data" / "tiny_bpe.model"
# Ours: what a voice agent's replies hold that upstream's list does not.
OUR_TEXTS = [
    "It's 3:45 PM and the ticket costs $12.50, about 20% less than last year.",
    "Call me at 555-0199 on March 3rd, 2026.",
    "I've read 1,234 pages; that's 99.5% of the book!",
    "我今天买了3斤苹果，花了25.5元。",
    "会议定在2026年3月1日下午3点，地点在3号楼。",
    "Hello 你好，今天是2026年12月6日，temperature is 21°C.",
    'She said "don\'t worry" and left at 10:30.',
    "They're here; we'll see.",
    "请读pin1yin1和shu4zi4。",
]


def upstream_cases(checkout: Path) -> list[str]:
    """The `cases` list in upstream's front.py `__main__` block."""
    tree = ast.parse((checkout / "indextts/utils/front.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "cases" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit("no `cases` list in upstream's front.py")


def main(checkout: Path, commit: str, out: Path) -> None:
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    sys.path.insert(0, str(checkout))
    from indextts.utils.front import TextNormalizer, TextTokenizer

    normalizer = TextNormalizer()
    tokenizer = TextTokenizer(str(BPE_MODEL), normalizer)
    cases = [
        {"text": text, "normalized": normalizer.normalize(text), "pieces": tokenizer.tokenize(text)}
        for text in [*upstream_cases(checkout), *OUR_TEXTS]
    ]
    out.write_text(
        json.dumps({"upstream_commit": commit, "cases": cases}, ensure_ascii=False, indent=1)
        + "\n",
        encoding="utf-8",
    )
    print(f"{out}: {len(cases)} cases from index-tts {commit}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python tests/make_text_goldens.py INDEX_TTS_CHECKOUT COMMIT OUT_JSON")
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
