"""What the DiT's in-context prompt costs per chunk: one flow-matching pass at several prompt lengths.

Every streamed chunk re-runs the DiT over the reference prompt plus the chunk (non-causal attention,
so nothing of the prompt can be reused), which makes the prompt the dominant cost at real size. This
times one pass (the engine's diffusion steps and CFG rate) for a chunk of `--chunk-frames` mel frames
after a prompt of each length, on the loaded model of DIR (random inputs: the cost does not depend on
the values).

    python benchmarks/dit_prompt.py --model-dir /tmp/real2 --prompts 6,3,1.5 [--profile]
    python benchmarks/dit_prompt.py --model-dir /tmp/real2 --prompts 3 --steps 25,15,12,10

`--steps` times each prompt at each flow-matching step count (default: the engine's); `--profile`
then prints where one pass (the first prompt length, 2 steps) spends its CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from tts_plugin.engines.indextts2 import IndexTTS2Engine
from tts_plugin.engines.indextts2.engine import HOP, SAMPLE_RATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--prompts", default="6,3,1.5", help="prompt lengths in seconds")
    parser.add_argument("--chunk-frames", type=int, default=55, help="mel frames of the chunk")
    parser.add_argument("--steps", default=None, help="step counts, e.g. 25,15,10 (the engine's)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="then the ops of one pass")
    args = parser.parse_args()
    engine = IndexTTS2Engine(args.model_dir, device=args.device, warm_up=False)
    engine.load()
    models = engine._models
    cfm, device = models.s2mel.models["cfm"], models.device
    step_counts = [int(n) for n in (args.steps or str(engine._diffusion_steps)).split(",")]
    print(f"{engine.generation} on {device}, CFG {engine._cfg_rate}, chunk of "
          f"{args.chunk_frames} frames; median of {args.runs} (s)")  # fmt: skip
    print("| prompt (s) | prompt frames | steps | DiT pass (s) | vs the first row |")
    print("| --- | --- | --- | --- | --- |")
    first = None
    for seconds, steps in ((float(s), n) for s in args.prompts.split(",") for n in step_counts):
        frames = int(seconds * SAMPLE_RATE / HOP)
        total = frames + args.chunk_frames
        condition = torch.randn(1, total, 512, device=device)
        prompt = torch.randn(1, 80, frames, device=device)
        style = torch.randn(1, 192, device=device)
        times = []
        for _ in range(args.runs + 1):  # the first run warms up
            started = time.perf_counter()
            with engine._model_call():
                cfm.inference(
                    condition, torch.LongTensor([total]).to(device), prompt, style, None,
                    steps, inference_cfg_rate=engine._cfg_rate,
                )  # fmt: skip
            if str(device).startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        pass_seconds = statistics.median(times[1:])
        first = first or pass_seconds
        print(
            f"| {seconds:g} | {frames} | {steps} | {pass_seconds:.2f} | ×{pass_seconds / first:.2f} |"
        )
        if args.profile:
            from torch.profiler import profile

            with profile() as profiled, engine._model_call():
                cfm.inference(
                    condition, torch.LongTensor([total]).to(device), prompt, style, None, 2,
                    inference_cfg_rate=engine._cfg_rate,
                )  # fmt: skip
            print(profiled.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
            args.profile = False


if __name__ == "__main__":
    main()
