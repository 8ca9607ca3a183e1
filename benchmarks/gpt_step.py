"""The IndexTTS GPT's decode step at the released size: transformers' growing cache against ours.

Both generations decode with a 24-layer, 1280-wide, 20-head GPT-2 (IndexTTS-2: two rows per step,
2.5: one). Random weights cost what real ones do, so the transformer is built at that shape here
(no checkpoint needed). For each cache length P (the prefix plus P codes already decoded), the
cache is filled by one forward over P positions, then `--steps` single-position steps are timed:

- growing: transformers' GPT2Model forward with its DynamicCache (concatenates every step: the
  engine's decode step before `static_kv.py`; one request only),
- static: the engine's step over its KV pool (`KVPool.step`, eager: a CPU's path), `--batch`
  requests stepping together in one bucket,
- graphed (CUDA only): the same bucket step captured at load as a CUDA graph and replayed.

    python benchmarks/gpt_step.py --device cpu --rows 2 --lengths 64,512,1024,1536
    python benchmarks/gpt_step.py --device cuda --dtype float16 --rows 2 --batch 8
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tts_plugin.engines.indextts2.static_kv import KVPool
from tts_plugin.engines.indextts2.unified_voice import _transformer


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(step, x: torch.Tensor, steps: int, device: str) -> float:
    """Median ms of `steps` calls of step(x)."""
    times = []
    for _ in range(steps):
        sync(device)
        started = time.perf_counter()
        step(x)
        sync(device)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def growing(gpt, prefix: torch.Tensor, rows: int):
    out = gpt(inputs_embeds=prefix, use_cache=True)
    past = out.past_key_values
    if rows > 1:
        past.batch_repeat_interleave(rows)

    def step(x: torch.Tensor) -> None:
        nonlocal past
        past = gpt(inputs_embeds=x, past_key_values=past, use_cache=True).past_key_values

    return step


def pooled(gpt, prefix: torch.Tensor, rows: int, capacity: int, batch: int, graphed: bool):
    pool = KVPool(gpt, batch, rows, capacity, prefix.dtype)
    caches = [pool.acquire() for _ in range(batch)]
    for cache in caches:
        cache.prefix(prefix)
    if graphed:
        with torch.autocast("cuda", enabled=False):
            pool.capture()

    def step(x: torch.Tensor) -> None:
        pool.step(caches, [x] * batch)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--rows", type=int, default=2, help="2 for IndexTTS-2, 1 for 2.5")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--heads", type=int, default=20)
    parser.add_argument("--lengths", default="64,512,1024,1536", help="cache lengths P")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1, help="requests stepping together")
    args = parser.parse_args()

    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    with torch.device(args.device):
        gpt = _transformer(args.layers, args.width, args.heads).to(dtype).eval()
    lengths = [int(n) for n in args.lengths.split(",")]
    capacity = max(lengths) + args.steps * 4 + 8
    methods = (["growing"] if args.batch == 1 else []) + ["static"]
    methods += ["graphed"] if args.device.startswith("cuda") else []
    print(f"GPT {args.layers} x {args.width}, {args.heads} heads, {args.rows} rows, {args.dtype}, "
          f"{args.device}, {torch.get_num_threads()} threads, {args.batch} requests per step; "
          f"median of {args.steps} steps (ms)")  # fmt: skip
    print("| cache length | " + " | ".join(methods) + " | growing / static |")
    print("| --- |" + " --- |" * (len(methods) + 1))
    for length in lengths:
        prefix = torch.randn(1, length, args.width, device=args.device, dtype=dtype)
        x = torch.randn(args.rows, 1, args.width, device=args.device, dtype=dtype)
        row = {}
        with torch.inference_mode():
            for method in methods:
                if method == "growing":
                    step = growing(gpt, prefix, args.rows)
                else:
                    step = pooled(gpt, prefix, args.rows, capacity, args.batch, method == "graphed")
                timed(step, x, 1, args.device)  # warm-up
                row[method] = timed(step, x, args.steps, args.device)
                del step
        cells = " | ".join(f"{row[m]:.1f}" for m in methods)
        ratio = f"x{row['growing'] / row['static']:.2f}" if "growing" in row else "-"
        print(f"| {length} | {cells} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
