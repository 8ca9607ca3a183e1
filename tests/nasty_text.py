"""A generated corpus of hostile and unlucky texts, for every boundary that takes text from outside."""

from __future__ import annotations

C0 = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]


def corpus() -> dict[str, str]:
    """Name → text; each either has something to say or nothing at all."""
    texts = {
        "nul": "hello \x00 there",
        "every C0 control": "count " + "".join(C0) + " to three",
        "C1 controls": "one \x80\x85\x9b\x9f two",
        "bidi overrides and isolates": "left " + "".join(BIDI) + " right \u202egnorw",
        "zero-width and format": "zero" + "".join(INVISIBLE) + "width",
        "combining marks x1000": "Zalgo a" + "\u0301" * 1000 + " text",
        "emoji sequences": "family 👨\u200d👩\u200d👧\u200d👦, flag 🇫🇷, skin 👍🏽, keycap 1\ufe0f\u20e3",
        "mixed Chinese English digits": "我今天买了3个apple，花了¥12.50元！OK吗？",
        "full-width letters": "Ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ １２３",
        "lone surrogates": "bad \ud800 half \udfff end",
        "non-characters and private use": "odd \ufffe\uffff\ue000\U0010fffd signs",
        "line and paragraph separators": "one\u2028two\u2029three",
        "punctuation only": "...!!!???",
        "emoji only": "😀😀🎉",
        "controls only": "\x00\x01\x1b[31m",
        "whitespace and invisibles only": " \u200b\u3000\ufeff\t",
        "lone combining marks": "\u0301\u0302\u0303",
    }
    return texts


NOTHING_TO_SAY = {
    "punctuation only",
    "emoji only",
    "whitespace and invisibles only",
    "lone combining marks",
}
