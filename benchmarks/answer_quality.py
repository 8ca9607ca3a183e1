"""Answer quality of the agent's LLM on everyday spoken questions, scored by a written rubric.

    python benchmarks/answer_quality.py [--seeds 4] [--conversation] [--language zh]
        [--set llm.max_tokens=...] [--set llm.gguf=PATH]

Starts the profile's local llama.cpp server (the embedded profile: SmolLM2-135M), asks each of the
fixed questions below in a fresh conversation with the agent's own system prompt and sampling, and
passes the reply through what the agent does before speaking it (emotion tags removed anywhere, an
unfinished tail after whole sentences dropped). Each spoken reply is scored 0 or 1 on:
- on topic: it contains one of the question's expected words (a lenient, mechanical check);
- complete: non-empty and ends with sentence punctuation (nothing cut mid-sentence is spoken);
- grounded: no invented self-reference ("my services", "our company", "as an AI", "I just lost my
  job", "I'm a music-loving person"), no refusal to talk ("I can't assist with that"), no
  condolences for a loss nobody had;
- fits speech: 3 to 60 words (Chinese: 3 to 120 characters), no lists, markdown, emojis or URLs;
- same language: a Chinese question gets a mostly Chinese reply, an English one a mostly English one.
`--language zh` asks 15 everyday Mandarin questions instead of the 30 English ones.
Prints a Markdown table per category and overall, with the first-token and whole-reply times, and
how many replies open like an earlier one (a small model copying itself). `--conversation` asks the
questions in one conversation per seed, kept within the agent's window (agent/context_window.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time

import aiohttp
from pipecat.processors.aggregators.llm_context import LLMContext

from agent.config import load_config
from agent.context_window import ContextWindow, context_budget
from agent.llm_server import LlamaServer
from agent.runtime import system_prompt
from tts_plugin.emotion_tags import strip_emotion_tags

# (category, question, words any of which an on-topic answer contains)
QUESTIONS = [
    ("fact", "What is the capital of France?", ["paris"]),
    ("fact", "How many days are there in a week?", ["seven", "7"]),
    ("fact", "What colour is the sky on a clear day?", ["blue"]),
    ("fact", "Where do penguins live?", ["antarctic", "south", "cold", "ice", "ocean"]),
    ("fact", "What do bees make?", ["honey"]),
    ("fact", "Which planet do we live on?", ["earth"]),
    ("fact", "What is two plus two?", ["four", "4"]),
    ("fact", "What is the opposite of hot?", ["cold"]),
    ("small talk", "Hi, how are you today?", ["good", "well", "great", "fine", "thank"]),
    ("small talk", "What is your favourite colour?", ["colour", "color", "blue", "green", "red"]),
    ("small talk", "Do you like music?", ["music", "song", "listen"]),
    ("small talk", "Good morning!", ["morning", "hello", "hi", "good"]),
    ("small talk", "What should I cook for dinner?", ["pasta", "soup", "salad", "chicken", "rice",
                                                      "dinner", "cook", "try", "vegetable"]),
    ("small talk", "Can you recommend a good book?", ["book", "read", "novel"]),
    ("feelings", "I lost my job today.", ["sorry", "hard", "difficult", "tough", "job"]),
    ("feelings", "I feel a bit lonely tonight.", ["sorry", "alone", "lonely", "here", "talk"]),
    ("feelings", "I just passed my exam!", ["congratulations", "great", "well done", "proud",
                                            "exam", "wonderful"]),
    ("feelings", "My cat is sick.", ["sorry", "vet", "cat", "hope"]),
    ("feelings", "I am so tired today.", ["rest", "sleep", "tired", "break"]),
    ("feelings", "I'm nervous about tomorrow.", ["nervous", "okay", "fine", "breath", "worry",
                                                "tomorrow", "prepare"]),
    ("story", "Tell me a very short story about a dragon.", ["dragon"]),
    ("story", "Tell me a short bedtime story.", ["once", "night", "sleep", "little"]),
    ("story", "Tell me a joke.", ["why", "because", "what"]),
    ("story", "Describe the sea in one sentence.", ["sea", "water", "wave", "blue"]),
    ("instruction", "How do I boil an egg?", ["water", "boil", "minutes"]),
    ("instruction", "How can I fall asleep faster?", ["sleep", "bed", "screen", "relax", "breath"]),
    ("instruction", "Give me one tip to save money.", ["save", "budget", "spend", "money"]),
    ("instruction", "How do I make a cup of tea?", ["water", "tea", "boil", "bag", "leaves"]),
    ("instruction", "Say hello in Spanish.", ["hola"]),
    ("instruction", "What should I pack for a beach day?", ["sunscreen", "towel", "water", "hat"]),
]  # fmt: skip
QUESTIONS_ZH = [
    ("fact", "法国的首都是哪里？", ["巴黎"]),
    ("fact", "一个星期有几天？", ["七", "7"]),
    ("fact", "晴天的时候天空是什么颜色的？", ["蓝"]),
    ("fact", "蜜蜂会做什么？", ["蜜"]),
    ("fact", "二加二等于几？", ["四", "4"]),
    ("small talk", "你好，你今天怎么样？", ["好", "不错", "谢谢"]),
    ("small talk", "你喜欢音乐吗？", ["音乐", "歌", "喜欢"]),
    ("small talk", "晚饭我该做什么？", ["面", "汤", "饭", "菜", "鸡", "做"]),
    ("feelings", "我今天很难过。", ["难过", "抱歉", "怎么", "心情", "陪", "听"]),
    ("feelings", "我今天丢了工作。", ["工作", "抱歉", "难", "遗憾"]),
    ("feelings", "我考试通过了！", ["恭喜", "祝贺", "太好", "棒"]),
    ("story", "给我讲一个关于龙的小故事。", ["龙"]),
    ("instruction", "怎么煮鸡蛋？", ["水", "煮", "分钟"]),
    ("instruction", "怎样才能更快入睡？", ["睡", "放松", "手机", "呼吸"]),
    ("instruction", "给我一个省钱的小建议。", ["钱", "预算", "省", "花"]),
]  # fmt: skip
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_INVENTED = re.compile(
    r"\b(my services|our (company|services|team)|as an ai|language model|trained by|"
    r"i am an? (ai|assistant|chatbot)|your (order|account)|the company's|"
    # a human life the assistant does not have, or a refusal to talk
    r"i (just )?lost my|my own (music|songs|family)|i'?m an? [\w-]+ person|i'?m not available|"
    r"i love (creating|performing)|sorry for your loss|sorry for any mistakes|"
    r"can'?t (assist|help) with (that|this))\b",
    re.IGNORECASE,
)
_NOT_SPEECH = re.compile(r"(^\s*[-*\d]+[.)]\s)|[#*_`]|https?://|[\U0001F300-\U0001FAFF]", re.M)


def spoken(reply: str) -> str:
    """What the agent would say: tags removed anywhere, an unfinished tail dropped."""
    text = " ".join(
        strip_emotion_tags(p).text for p in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", reply.strip())
    )
    sentences = re.findall(r"[^.!?。！？]*[.!?。！？]+[\"')\]”」]*", text)
    finished = "".join(sentences).strip()
    return finished if finished else text.strip()


def score(reply: str, expected: list[str], language: str) -> dict[str, int]:
    text = reply.lower()
    cjk, latin = len(_CJK.findall(reply)), len(_LATIN.findall(reply))
    if language == "zh":
        length_ok, same_language = 3 <= len(reply) <= 120, cjk > 0 and cjk >= latin
    else:
        length_ok, same_language = 3 <= len(re.findall(r"[\w']+", text)) <= 60, latin > cjk
    return {
        "on topic": int(any(w in text for w in expected)),
        "complete": int(bool(reply) and reply.rstrip("\"')]”」").endswith(tuple(".!?。！？"))),
        "grounded": int(not _INVENTED.search(reply)),
        "fits speech": int(length_ok and not _NOT_SPEECH.search(reply)),
        "same language": int(same_language),
    }


async def ask(
    session, url: str, config, history: list[dict], question: str, seed: int
) -> tuple[str, float, float]:
    body = {
        "seed": seed,
        "model": config.llm.model,
        "messages": [
            {"role": "system", "content": system_prompt(config)},
            *history,
            {"role": "user", "content": question},
        ],
        "max_tokens": config.llm.max_tokens,
        "temperature": config.llm.temperature,
        "stream": True,
    }
    started, first, parts = time.perf_counter(), None, []
    async with session.post(f"{url}/chat/completions", json=body) as response:
        async for line in response.content:
            line = line.decode().strip()
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            delta = json.loads(line[5:])["choices"][0]["delta"].get("content") or ""
            if delta and first is None:
                first = time.perf_counter() - started
            parts.append(delta)
    return "".join(parts), first or 0.0, time.perf_counter() - started


def opening(reply: str) -> str:
    return re.split(r"(?<=[.!?,])\s", reply.strip().lower(), maxsplit=1)[0]


async def run(overrides: list[str], seeds: int, conversation: bool, language: str) -> None:
    questions = QUESTIONS_ZH if language == "zh" else QUESTIONS
    config = load_config("embedded", overrides, environ={})
    budget = context_budget(config.llm.n_ctx, config.llm.max_tokens, system_prompt(config))
    server = LlamaServer(config.llm)
    await server.start()
    rows, repeats = [], 0
    try:
        async with aiohttp.ClientSession() as session:
            for seed in range(seeds):
                # One conversation per seed (kept within the agent's window), or a fresh one each.
                context = LLMContext()
                window = ContextWindow(context, budget_tokens=budget)
                openings: set[str] = set()
                for category, question, expected in questions:
                    reply, first, total = await ask(
                        session, server.base_url, config, context.messages, question, seed
                    )
                    said = spoken(reply)
                    rows.append(
                        (category, question, said, score(said, expected, language), first, total)
                    )
                    print(f"- {question} → {said!r}", flush=True)
                    repeats += bool(said) and opening(said) in openings
                    openings.add(opening(said))
                    if conversation:
                        context.add_messages(
                            [
                                {"role": "user", "content": question},
                                {"role": "assistant", "content": said},
                            ]
                        )
                        window.trim()
    finally:
        await server.stop()
    criteria = list(rows[0][3])
    mode = "one conversation per seed" if conversation else "a fresh conversation per question"
    print(f"\noverrides: {' '.join(overrides) or '(none)'}; seeds 0..{seeds - 1}; {mode}; "
          f"{language} questions\n")  # fmt: skip
    print("| category | n | " + " | ".join(criteria) + " | all |")
    print("| --- | --- | " + " | ".join("---" for _ in criteria) + " | --- |")
    for category in [*dict.fromkeys(r[0] for r in rows), "all"]:
        picked = [r for r in rows if category in ("all", r[0])]
        cells = [f"{sum(r[3][c] for r in picked)}/{len(picked)}" for c in criteria]
        perfect = sum(all(r[3].values()) for r in picked)
        print(
            f"| {category} | {len(picked)} | " + " | ".join(cells) + f" | {perfect}/{len(picked)} |"
        )
    firsts = [r[4] for r in rows]
    totals = [r[5] for r in rows]
    print(f"\nfirst token median {statistics.median(firsts) * 1000:.0f} ms, "
          f"whole reply median {statistics.median(totals) * 1000:.0f} ms")  # fmt: skip
    print(f"replies opening like an earlier one of the same seed: {repeats}/{len(rows)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--seeds", type=int, default=1, help="ask every question once per sampling seed"
    )
    parser.add_argument(
        "--conversation",
        action="store_true",
        help="ask the questions in one conversation (per seed), trimmed as the agent trims it",
    )
    parser.add_argument("--language", choices=["en", "zh"], default="en")
    args = parser.parse_args()
    asyncio.run(run(args.set, args.seeds, args.conversation, args.language))


if __name__ == "__main__":
    main()
