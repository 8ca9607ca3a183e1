"""Streamed chunks compute what the whole segment computes, in every stage where that is possible.

Upstream runs each stage once over a whole text segment. The engine's chunks see every code decoded
so far and `lookahead_seconds` of codes past their end: the semantic features (IndexTTS-2.5's codec
decoder is convolutional) equal the whole segment's outside the lookahead, and BigVGAN, given its
receptive field on both sides, equals the whole segment's vocoding. The length regulator runs over
every code decoded so far (its GroupNorm normalises over all frames it is given: only the whole
segment has the whole segment's statistics) and the DiT over the reference and the previous chunk's
frames; `benchmarks/chunk_fidelity.py` measures both at the released shapes. Run on the tiny dirs
of both generations, whose receptive fields are smaller than the lookahead used here.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch
from offline import no_network

from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.indextts2 import ChunkSchedule, Sampling
from tts_plugin.engines.indextts2.chunking import ChunkSizes

pytestmark = pytest.mark.slow
HOP = 256
CODES = 120


@pytest.fixture
def engine(indextts2_engine, monkeypatch):
    monkeypatch.setattr(indextts2_engine, "_sampling", Sampling(seed=3, max_codes=CODES))
    with no_network():
        yield indextts2_engine


def relative(ours: torch.Tensor, whole: torch.Tensor) -> float:
    return float((ours - whole).abs().max() / whole.abs().max())


def recorded_chunks(engine, monkeypatch) -> list[dict]:
    """Stream a sentence, recording each chunk's codes, range and the decoder it used."""
    calls: list[dict] = []
    real = type(engine)._chunk

    def chunk(self, decoder, codes, start, stop, *args, **kwargs):
        calls.append({"decoder": decoder, "codes": list(codes), "start": start, "stop": stop})
        return real(self, decoder, codes, start, stop, *args, **kwargs)

    monkeypatch.setattr(type(engine), "_chunk", chunk)
    list(engine.stream(SynthesisRequest("Hello there, my friend."), threading.Event()))
    return calls


def test_a_chunk_waits_for_its_lookahead_and_sees_every_code_decoded_so_far(engine, monkeypatch):
    calls = recorded_chunks(engine, monkeypatch)
    lookahead = ChunkSchedule().codes(ChunkSchedule().lookahead_seconds, engine._codes_per_second)
    assert lookahead >= 2 and len(calls) >= 3
    for call, following in zip(calls, calls[1:], strict=False):
        assert len(call["codes"]) - call["stop"] == lookahead  # its right context
        assert following["start"] == call["stop"]  # the next chunk speaks those codes
    assert calls[-1]["stop"] == len(calls[-1]["codes"])  # the last one: up to the end


def test_features_of_a_chunk_equal_the_whole_segments_outside_the_lookahead(engine, monkeypatch):
    monkeypatch.setattr(engine, "_schedule", ChunkSchedule(lookahead_seconds=0.4))
    calls = recorded_chunks(engine, monkeypatch)
    last = calls[-1]
    models = engine._models
    whole = models.code_features(last["decoder"], last["codes"])
    rows = whole.size(1) // len(last["codes"])  # feature rows per code: 1 (v2) or 2 (2.5)
    for call in calls:
        ours = models.code_features(call["decoder"], call["codes"])
        kept = slice(call["start"] * rows, call["stop"] * rows)
        assert relative(ours[:, kept], whole[:, kept]) < 1e-5, (call["start"], call["stop"])
    # Without the lookahead a chunk's last codes would differ on 2.5 (its codec sees ahead).
    if engine.generation == "IndexTTS-2.5":
        first = calls[0]
        cut = models.code_features(first["decoder"], first["codes"][: first["stop"]])
        assert relative(cut[:, : first["stop"] * rows], whole[:, : first["stop"] * rows]) > 1e-3


def test_vocoded_chunks_equal_the_whole_segments_vocoding(engine, monkeypatch):
    schedule = ChunkSchedule(lookahead_seconds=0.4)
    monkeypatch.setattr(engine, "_schedule", schedule)
    models, cps = engine._models, engine._codes_per_second
    torch.manual_seed(0)
    frames = int(CODES * models.mel_frames_per_code)
    mel = torch.randn(1, 80, frames)
    whole = models.bigvgan(mel).reshape(-1)
    lookahead = schedule.codes(schedule.lookahead_seconds, cps)

    def frame(codes: int) -> int:
        return int(codes * models.mel_frames_per_code)

    sizes, start, pieces = ChunkSizes(schedule, cps), 0, []
    while start < CODES:
        stop = min(start + sizes.target, CODES)
        ahead = mel[:, :, frame(stop) : frame(min(stop + lookahead, CODES))]
        pieces.append(engine.vocode(mel[:, :, : frame(stop)], frame(start), ahead, overlap=0))
        start, _ = stop, sizes.advance()
    chunked = torch.cat(pieces)
    assert chunked.shape == whole.shape
    assert relative(chunked, whole) < 1e-5
    # The measure sees a join without the receptive field on both sides.
    blind_schedule = replace(schedule, vocoder_context_frames=0, crossfade_samples=0)
    monkeypatch.setattr(engine, "_schedule", blind_schedule)
    blind = engine.vocode(mel[:, :, : frame(30)], frame(10), mel[:, :, :0], overlap=0)
    assert relative(blind, whole[frame(10) * HOP : frame(30) * HOP]) > 1e-3
