"""The LLM's first token on its own: in-process llama.cpp against the agent's llama.cpp server.

    python benchmarks/llm_first_token.py [--model qwen2.5-coder-0.5b-instruct]

A conversation is evaluated first (as the agent prefills it after every bot turn), then five
everyday questions are asked one by one, each after the same prefill, streaming 24 tokens: the
time to the first content token and per token after it. Three paths, 1 decode thread as the agent
runs it: `llama_cpp.Llama` in this process; the agent's `python -m llama_cpp.server` as started by
`agent/llm_server.py` (now `--logits_all False`); the same server with llama-cpp-python's default
`logits_all=True`, which the agent used before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from unittest import mock

import aiohttp
import llama_cpp

from agent.config import load_config
from agent.llm_server import LlamaServer, bundled_gguf
from agent.runtime import system_prompt

SYSTEM = system_prompt(load_config("embedded"))  # the agent's whole prompt, tag syntax included
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Hello there."},
    {"role": "assistant", "content": "Hi! How are you today?"},
]
QUESTIONS = [
    "What is the capital of France?",
    "Why is the sky blue?",
    "Do you like music?",
    "What should I cook for dinner tonight?",
    "I lost my job today.",
]


def in_process(model: str) -> list[tuple[float, float]]:
    llm = llama_cpp.Llama(
        model_path=str(bundled_gguf(model)),
        n_ctx=2048,
        n_threads=1,
        n_threads_batch=2,
        verbose=False,
    )
    results = []
    for question in QUESTIONS:
        llm.create_chat_completion(messages=CONVERSATION, max_tokens=1)
        start, first, tokens = time.perf_counter(), None, 0
        messages = [*CONVERSATION, {"role": "user", "content": question}]
        for chunk in llm.create_chat_completion(messages=messages, max_tokens=24, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                tokens += 1
                first = first or time.perf_counter() - start
        results.append((first, (time.perf_counter() - start - first) / max(1, tokens - 1)))
    return results


async def served(model: str, logits_all: bool) -> list[tuple[float, float]]:
    config = load_config("embedded", [f"llm.model={model}"]).llm
    server = LlamaServer(config)
    spawn = asyncio.create_subprocess_exec

    def with_logits(*args, **kwargs):  # llama-cpp-python's own default, as the agent ran it before
        if logits_all:
            i = args.index("--logits_all")
            args = (*args[:i], *args[i + 2 :])
        return spawn(*args, **kwargs)

    with mock.patch("asyncio.create_subprocess_exec", with_logits):
        await server.start()
    results = []
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{server.base_url}/chat/completions"

            async def ask(messages: list[dict], tokens: int) -> tuple[float, float]:
                body = {"model": model, "messages": messages, "max_tokens": tokens, "stream": True}
                start, first, count = time.perf_counter(), None, 0
                async with session.post(url, json=body) as response:
                    async for line in response.content:
                        if not line.startswith(b"data: {"):
                            continue
                        if json.loads(line[6:])["choices"][0]["delta"].get("content"):
                            count += 1
                            first = first or time.perf_counter() - start
                total = time.perf_counter() - start
                return first or total, (total - (first or total)) / max(1, count - 1)

            for question in QUESTIONS:
                await ask(CONVERSATION, 1)
                results.append(
                    await ask([*CONVERSATION, {"role": "user", "content": question}], 24)
                )
    finally:
        await server.stop()
    return results


def row(name: str, results: list[tuple[float, float]]) -> str:
    firsts = [first * 1000 for first, _ in results]
    per_token = statistics.median(t * 1000 for _, t in results)
    return (
        f"| {name} | {min(firsts):.0f}–{max(firsts):.0f} ms (median {statistics.median(firsts):.0f}) "
        f"| {per_token:.0f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    args = parser.parse_args()
    print(f"{args.model}: first token and per token after it, {len(QUESTIONS)} questions\n")
    print("| path | first token | per token after it |\n| --- | --- | --- |")
    print(row("`llama_cpp.Llama` in-process", in_process(args.model)))
    print(row("the agent's server, `--logits_all False`", asyncio.run(served(args.model, False))))
    print(row("the same server, `logits_all=True` (before)", asyncio.run(served(args.model, True))))


if __name__ == "__main__":
    main()
