"""How far each deterministic stage of a streamed chunk is from the whole segment's computation.

    python benchmarks/chunk_fidelity.py MODEL_DIR [--codes 200]

Upstream runs every stage once over a whole text segment; the engine runs them per chunk while the
GPT is still decoding. On one segment of `--codes` codes (decoded by the dir's GPT, random weights
at the released shapes: `benchmarks/indextts2_real_size.py`), each stage is computed once over the
whole segment and then chunk by chunk, with the chunk boundaries the engine's `ChunkSchedule` gives:

- features: what s2mel's length regulator takes (IndexTTS-2.5: the codec's decoder, ±39 codes of
  receptive field; IndexTTS-2: a codebook lookup plus `gpt_layer`, one code at a time);
- length regulator: its GroupNorm normalises over every frame it is given, and its nearest-neighbour
  stretch maps frames to codes by the length of what it is given (upstream's forward on the whole
  segment is the reference; the engine's `regulated` keeps a fixed frames-per-code ratio);
- BigVGAN: fed the whole segment's mel (the DiT's, 4 steps) with each chunk's context, so only the
  context differs.

"before" is the engine as it was (features and regulator over the chunk plus 0.32 s of left
context, BigVGAN with 8 frames of left context, nothing on the right); "after" is the engine now
(features and regulator over every code decoded so far, BigVGAN with 24 frames on the left and the
lookahead's frames on the right), for several lookaheads. Deviation is |chunked − whole| relative
to the RMS of the whole stage's output, over the frames each chunk keeps: the largest, the RMS, and
the largest more than 8 mel frames (or code-time equivalents) from any chunk edge. The DiT is not
compared: its attention spans the segment, so a chunk can only be conditioned on the reference and
the previous chunk's frames. A lookahead's first-audio cost is its codes × the GPT step time
measured in the same run.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from tts_plugin.emotion import Emotion
from tts_plugin.engines.indextts2 import ChunkSchedule, IndexTTS2Engine, Sampling
from tts_plugin.engines.indextts2.chunking import ChunkSizes
from tts_plugin.engines.indextts2.deadlines import StreamClock
from tts_plugin.engines.indextts2.decode import request_generator, sample_codes

TEXT = "Once upon a time, in a small village by the sea, there lived an old fisherman."
HOP = 256
BEFORE = {"context_seconds": 0.32, "vocoder_context_frames": 8}
LOOKAHEADS = {"IndexTTS-2": (0, 2, 4, 8, 13, 24), "IndexTTS-2.5": (0, 1, 2, 4, 7, 13, 40)}


@dataclass
class Segment:
    engine: IndexTTS2Engine
    decoder: object
    codes: list[int]
    step_seconds: float

    @property
    def models(self):
        return self.engine._models

    def frames(self, n_codes: int) -> int:
        return int(n_codes * self.models.mel_frames_per_code)

    def features(self, codes: list[int]) -> torch.Tensor:
        return self.models.code_features(self.decoder, codes)

    def window_features(self, left: int, decoded: int) -> torch.Tensor:
        """Features of codes[left:decoded] computed over that window alone (the old engine)."""
        if self.engine.generation == "IndexTTS-2":  # a code at a time, with its GPT latent
            return self.features(self.codes[:decoded])[:, left:]
        return self.features(self.codes[left:decoded])

    def regulate(self, features: torch.Tensor, frames: int) -> torch.Tensor:
        regulator = self.models.s2mel.models["length_regulator"]
        return regulator(features, ylens=torch.tensor([frames]))


def decode(model_dir: Path, n_codes: int) -> Segment:
    engine = IndexTTS2Engine(
        model_dir, device="cpu", warm_up=False, sampling=Sampling(seed=1, max_codes=n_codes)
    )
    engine.load()
    models = engine._models
    voice = engine._voice(None)
    emotion = engine._emotion(voice, Emotion(preset="neutral"))
    [tokens, *_] = engine._segments(TEXT, "en")
    with engine._model_call(gpt=True):
        decoder = models.decoder(voice, emotion, tokens, "en", n_codes)
    started = time.perf_counter()
    codes = list(
        sample_codes(
            decoder, models.stop_code, models.codebook_size, engine._sampling, threading.Event(),
            engine._steps, StreamClock(), request_generator(1, models.device),
        )
    )  # fmt: skip
    return Segment(engine, decoder, codes, (time.perf_counter() - started) / len(codes))


def chunks(segment: Segment, schedule: ChunkSchedule) -> list[tuple[int, int, int]]:
    """(start, stop, decoded) of each chunk, as the engine cuts them."""
    cps = segment.engine._codes_per_second
    lookahead = schedule.codes(schedule.lookahead_seconds, cps)
    sizes, done, out = ChunkSizes(schedule, cps), 0, []
    for decoded in range(1, len(segment.codes) + 1):
        if decoded - done >= sizes.target + lookahead:
            out.append((done, decoded - lookahead, decoded))
            done = decoded - lookahead
            sizes.advance()
    if done < len(segment.codes):
        out.append((done, len(segment.codes), len(segment.codes)))
    return out


def deviation(parts: list[tuple[torch.Tensor, torch.Tensor, int]], scale: float) -> tuple:
    """(max, RMS, max away from the edges) of chunked against whole rows, relative to `scale`.

    `parts`: (chunked rows, whole rows, rows per mel frame) per chunk; rows are time steps.
    """
    peaks, squares, interior, count = [], 0.0, [0.0], 0
    for ours, whole, per_frame in parts:
        diff = (ours - whole).abs().reshape(ours.size(0), -1)
        peaks.append(float(diff.max()))
        squares += float((diff**2).sum())
        count += diff.numel()
        margin = 8 * per_frame
        if diff.size(0) > 2 * margin:
            interior.append(float(diff[margin:-margin].max()))
    return max(peaks) / scale, (squares / count) ** 0.5 / scale, max(interior) / scale


def stage_rows(segment: Segment, schedule: ChunkSchedule, before: bool, mel, wav) -> dict:
    codes, frames = segment.codes, segment.frames
    per_code_frames = segment.models.mel_frames_per_code
    context = schedule.codes(schedule.context_seconds, segment.engine._codes_per_second)
    whole_features = segment.features(codes)
    whole_cond = segment.regulate(whole_features, frames(len(codes)))
    per_code = whole_features.size(1) // len(codes)  # feature rows per code: 1 (2) or 2 (2.5)
    feats, conds, audio = [], [], []
    for start, stop, decoded in chunks(segment, schedule):
        left = max(0, start - context) if before else 0
        features = segment.window_features(left, decoded)
        kept = slice((start - left) * per_code, (stop - left) * per_code)
        feats.append(
            (features[0, kept], whole_features[0, start * per_code : stop * per_code], per_code)
        )
        if before:
            cond = segment.regulate(features, frames(decoded) - frames(left))
        else:
            cond = segment.engine.regulated(segment.decoder, codes[:decoded], per_code_frames)
        kept = slice(frames(start) - frames(left), frames(stop) - frames(left))
        conds.append((cond[0, kept], whole_cond[0, frames(start) : frames(stop)], 1))
        first = frames(start)
        ctx = min(schedule.vocoder_context_frames, first)
        piece = segment.models.bigvgan(mel[:, :, first - ctx : frames(decoded)]).reshape(-1)
        piece = piece[ctx * HOP : (ctx + frames(stop) - first) * HOP]
        audio.append(
            (piece.reshape(-1, HOP), wav[first * HOP : frames(stop) * HOP].reshape(-1, HOP), 1)
        )
    rms = {
        "features": float(whole_features.pow(2).mean().sqrt()),
        "length regulator": float(whole_cond.pow(2).mean().sqrt()),
        "BigVGAN": float(wav.pow(2).mean().sqrt()),
    }
    return {
        stage: deviation(parts, rms[stage])
        for stage, parts in zip(rms, (feats, conds, audio), strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--codes", type=int, default=200)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    segment = decode(args.model_dir, args.codes)
    engine, models = segment.engine, segment.models
    label = engine.generation
    voice = engine._voice(None)
    cond = segment.regulate(segment.features(segment.codes), segment.frames(len(segment.codes)))
    condition = torch.cat([voice.prompt_condition, cond], 1)
    torch.manual_seed(0)
    mel = models.s2mel.models["cfm"].inference(
        condition, torch.LongTensor([condition.size(1)]), voice.reference_mel, voice.style, None,
        4, inference_cfg_rate=0.7,
    )[:, :, voice.reference_mel.size(-1) :]  # fmt: skip
    wav = models.bigvgan(mel).reshape(-1)
    cps = engine._codes_per_second
    print(
        f"\n{label}, {len(segment.codes)} codes ({len(segment.codes) / cps:.1f} s), "
        f"GPT step {segment.step_seconds * 1000:.0f} ms on this CPU\n"
    )
    print(
        "| engine | lookahead | first-audio cost | stage | max | RMS | max > 8 frames from edges |"
    )
    print("|---|---|---|---|---|---|---|")
    default = ChunkSchedule()
    runs = [("before", replace(default, lookahead_seconds=0, **BEFORE), True)]
    runs += [
        ("after", replace(default, lookahead_seconds=n / cps), False) for n in LOOKAHEADS[label]
    ]
    for name, schedule, before in runs:
        n = schedule.codes(schedule.lookahead_seconds, cps)
        cost = f"{n} codes, {n * segment.step_seconds:.2f} s here"
        for stage, (peak, rms, inner) in stage_rows(segment, schedule, before, mel, wav).items():
            print(
                f"| {name} | {n / cps:.2f} s | {cost} | {stage} | {peak:.2g} | {rms:.2g} | {inner:.2g} |"
            )
    print(f"\nchunks (start, stop, decoded) at the default lookahead: {chunks(segment, default)}")


if __name__ == "__main__":
    main()
