"""IndexTTS2: our sub-sentence streaming vs upstream's `stream_return=True`, same model, same run.

    python benchmarks/indextts2_stream.py --model-dir DIR [--device cuda] [--runs 5] [--stages]
        [--half] [--no-cuda-graphs]

Both sides use one loaded model (so weights, device and warm-up are identical) and the same
reference voice; the dir's generation picks the upstream side:
- IndexTTS-2.5: `indextts25`'s `infer_generator(..., stream_return=True)`, which yields a whole text
  segment at a time, once with its defaults (3 beams, 25 diffusion steps) and once with ours (1 beam,
  our diffusion steps) so the streaming itself is compared apart from the settings.
- IndexTTS-2: upstream v2's `stream_return=True` loop (decode the whole segment, the second GPT pass
  for latents, s2mel and BigVGAN over the segment, then yield) run on our v2 modules, which the golden
  test proves equal to upstream's, with our settings. (Upstream's own v2 package needs torchaudio and
  its hub downloads, so it cannot share the loaded model.)
First audio: request start → first non-silent chunk. RTF: wall time / audio seconds.
Prints a Markdown table of medians.

On the tiny random-weight checkpoints (`python tests/tiny_checkpoints.py DIR` for 2.5,
`python tests/tiny_checkpoints_v2.py DIR` for 2) a random GPT rarely stops, so pass `--max-codes` to
give every method the same length; with real weights leave it.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from tts_plugin.emotion import Emotion
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.indextts2 import ChunkSchedule, IndexTTS2Engine, Sampling
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.decode import request_generator, sample_codes

TEXTS = [
    ("short", "Sure, I can help with that."),
    ("one sentence", "Well, I think the weather today is lovely, and we should go for a long walk "
     "in the park with a basket of sandwiches."),
    ("two sentences", "The train leaves at nine in the morning. If we hurry, we can still buy "
     "coffee and find two seats by the window before it departs."),
]  # fmt: skip


def timed(chunks: Iterator[np.ndarray], sample_rate: int) -> tuple[float, float, float]:
    """(first audio s, total s, audio s) of a stream of float or int16 chunks."""
    started = time.perf_counter()
    first = None
    samples = 0
    for chunk in chunks:
        if first is None and np.any(chunk):
            first = time.perf_counter() - started
        samples += len(chunk)
    total = time.perf_counter() - started
    return first or total, total, samples / sample_rate


def ours(engine: IndexTTS2Engine, text: str) -> Iterator[np.ndarray]:
    return engine.stream(SynthesisRequest(text, language="en"), threading.Event())


def upstream(engine: IndexTTS2Engine, text: str, *, ours_settings: bool, max_codes: int):
    import torch

    settings = {"num_beams": 3, "diffusion_steps": 25}
    if ours_settings:
        settings = {"num_beams": 1, "diffusion_steps": engine._diffusion_steps}
    with torch.inference_mode():
        for wav in engine._models._tts.infer_generator(
            str(engine._default_voice), text, None, "en", stream_return=True,
            text_normalization=False, max_mel_tokens=max_codes, **settings,
        ):  # fmt: skip
            yield wav.reshape(-1).numpy()


def upstream_v2(engine: IndexTTS2Engine, text: str, *, max_codes: int):
    """Upstream v2's segment-at-a-time loop (infer_v2.py, stream_return=True) on our v2 modules."""
    import torch

    models = engine._models
    voice = engine._voice(None)
    emotion = engine._emotion(voice, Emotion(preset="neutral"))
    sampling = replace(engine._sampling, max_codes=max_codes)
    cfm, regulator = models.s2mel.models["cfm"], models.s2mel.models["length_regulator"]
    for index, tokens in enumerate(engine._segments(text, "en")):
        if index:
            yield engine._segment_silence
        with engine._model_call(gpt=True):
            decoder = models.decoder(voice, emotion, tokens, "en", max_codes)
        decoded = sample_codes(
            decoder, models.stop_code, models.codebook_size, sampling, threading.Event(),
            engine._steps, StreamClock(), request_generator(sampling.seed, models.device),
        )  # fmt: skip
        codes = torch.tensor([list(decoded)])
        with engine._model_call():
            conditioning = models.gpt.conditioning(voice.gpt_speaker, emotion)
            latents = models.gpt.teacher_forced_latents(conditioning, tokens, codes)
            features = models.codec.embed(codes) + models.s2mel.models["gpt_layer"](latents)
            frames = torch.tensor([int(codes.size(1) * models.mel_frames_per_code)])
            condition = torch.cat([voice.prompt_condition, regulator(features, ylens=frames)], 1)
            mel = cfm.inference(
                condition, torch.LongTensor([condition.size(1)]), voice.reference_mel, voice.style,
                None, engine._diffusion_steps, inference_cfg_rate=engine._cfg_rate,
            )[:, :, voice.reference_mel.size(-1) :]  # fmt: skip
            yield models.bigvgan(mel.float()).reshape(-1).numpy()


class StageClock:
    """Wall time per pipeline stage, by wrapping the loaded models' entry points in place."""

    def __init__(self, engine: IndexTTS2Engine) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        models = engine._models
        s2mel = models.s2mel.models
        self._wrap(engine, "regulated", "features + length regulator (all codes so far)")
        self._wrap(s2mel["cfm"], "inference", "DiT (steps × CFG)")
        self._wrap(models.bigvgan, "forward", "BigVGAN")
        real_decoder = models.decoder

        def decoder(*args, **kwargs):
            made = real_decoder(*args, **kwargs)
            self._wrap(made, "start", "GPT prefill")
            self._wrap(made, "step", "GPT steps (latents included)")
            return made

        models.decoder = decoder

    def _wrap(self, owner, attribute: str, stage: str) -> None:
        real = getattr(owner, attribute)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
                self.calls[stage] = self.calls.get(stage, 0) + 1

        setattr(owner, attribute, timed)


def stage_table(engine: IndexTTS2Engine, text: str, runs: int) -> None:
    """Where a request's time goes: each stage's share of the wall time, per call and in all."""
    clock = StageClock(engine)
    wall = audio = 0.0
    for _ in range(runs):
        _, total, seconds = timed(ours(engine, text), engine.sample_rate)
        wall, audio = wall + total, audio + seconds
    print(f"\nStages of ours on {text[:40]!r}… ({runs} runs, {audio / runs:.2f} s of audio each, "
          f"RTF {wall / audio:.2f})\n")  # fmt: skip
    print("| stage | calls per request | ms per call | s per request | share of wall |")
    print("| --- | --- | --- | --- | --- |")
    accounted = 0.0
    for stage, seconds in sorted(clock.seconds.items(), key=lambda kv: -kv[1]):
        calls = clock.calls[stage]
        accounted += seconds
        print(f"| {stage} | {calls / runs:.0f} | {1000 * seconds / calls:.1f} | "
              f"{seconds / runs:.2f} | {seconds / wall:.0%} |")  # fmt: skip
    rest = wall - accounted
    print(f"| the rest (sampling, join, crossfade, Python) | | | {rest / runs:.2f} | "
          f"{rest / wall:.0%} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--diffusion-steps", type=int, default=10)
    parser.add_argument("--max-codes", type=int, default=1500)
    parser.add_argument("--first-chunk-seconds", type=float, default=0.48)
    parser.add_argument("--stages", action="store_true", help="then time every stage of ours")
    parser.add_argument("--texts", type=int, default=len(TEXTS), help="the first N texts only")
    parser.add_argument("--half", action="store_true", help="the GPT in fp16 (v2) / bf16 (2.5)")
    parser.add_argument(
        "--cuda-graphs", action=argparse.BooleanOptionalAction, default=True,
        help="on CUDA, each request's decode step as a CUDA graph",
    )  # fmt: skip
    args = parser.parse_args()
    engine = IndexTTS2Engine(
        args.model_dir,
        device=args.device,
        fp16=args.half,
        bf16=args.half,
        cuda_graphs=args.cuda_graphs,
        diffusion_steps=args.diffusion_steps,
        sampling=Sampling(max_codes=args.max_codes),
        schedule=ChunkSchedule(first_seconds=args.first_chunk_seconds),
        text_normalization=False,
    )
    started = time.perf_counter()
    engine.load()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{engine.generation} on {engine._models.device} (GPT {engine._models.dtype or 'fp32'}, "
          f"CUDA graphs {engine._models.cuda_graphs}): load + warm-up "
          f"{time.perf_counter() - started:.1f} s, peak RSS {peak:.1f} GiB, {args.runs} runs per "
          "cell, medians\n")  # fmt: skip
    methods: list[tuple[str, Callable[[str], Iterator[np.ndarray]]]] = [
        ("ours (sub-sentence)", lambda t: ours(engine, t)),
    ]
    if engine.generation == "IndexTTS-2":
        methods.append(("upstream v2 loop, same settings",
                        lambda t: upstream_v2(engine, t, max_codes=args.max_codes)))  # fmt: skip
    else:
        methods += [
            ("upstream, same settings", lambda t: upstream(engine, t, ours_settings=True,
                                                           max_codes=args.max_codes)),
            ("upstream, defaults", lambda t: upstream(engine, t, ours_settings=False,
                                                      max_codes=args.max_codes)),
        ]  # fmt: skip
    print("| text | method | audio (s) | first audio (s) | RTF | first audio vs ours |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, text in TEXTS[: args.texts]:
        baseline = None
        for method, run in methods:
            results = [timed(run(text), engine.sample_rate) for _ in range(args.runs)]
            first = statistics.median(r[0] for r in results)
            rtf = statistics.median(r[1] / r[2] for r in results)
            audio = statistics.median(r[2] for r in results)
            baseline = baseline or first
            print(f"| {name} | {method} | {audio:.2f} | {first:.3f} | {rtf:.3f} | "
                  f"×{first / baseline:.1f} |", flush=True)  # fmt: skip
    if args.stages:
        stage_table(engine, TEXTS[1][1], args.runs)


if __name__ == "__main__":
    main()
