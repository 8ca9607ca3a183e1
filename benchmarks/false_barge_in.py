"""How often non-speech sounds would cut the bot off, and how soon real speech does, per VAD start.

    pip install pygame   # only for its recorded sound effects (a door, a punch, a boom, music)
    python benchmarks/false_barge_in.py [--start 0.064 0.096 0.12]

With `turns.barge_in=vad` the bot stops as soon as the VAD enters speech, so a sound that makes
the agent's VAD (Silero with the agent's volume floors, agent/vad.py) enter speech is a false
barge-in. Each clip is played at three levels between 1 s of silence before and after, in 20 ms
chunks as the transport feeds them, for each `turns.vad_start_secs` given:
- recorded sound effects shipped in pygame's wheel (pygame/examples/data);
- synthetic sounds: white-noise bursts of 40-300 ms, a keyboard-like click train, a low thump;
- echo residue: the bot's own voice (Piper) at -20 and -30 dB, as an echo canceller leaves it;
- backchannels ("Mhm.", "Okay.") and the benchmark's interruptions: real speech, which *should*
  enter speech; for those the table gives how long after the first loud 20 ms it does.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import threading
from pathlib import Path

import av
import numpy as np
import soxr
from pipecat.audio.vad.vad_analyzer import VADState

from agent.config import TurnConfig
from agent.vad import session_vad
from tts_plugin.engine import SynthesisRequest
from tts_plugin.engines.embedded import EmbeddedEngine

RATE = 16000
CHUNK = 320  # 20 ms
LEVELS = (1.0, 0.5, 0.25)
LOUD = 0.02  # a 20 ms frame at this RMS (of full scale) counts as sound
BOT_TEXT = "Once upon a time, in a small village by the sea, there lived an old fisherman."
SPEECH = ["Mhm.", "Okay.", "Wait, stop please.", "Hold on a second.", "Sorry, one question."]


def pygame_effects() -> dict[str, np.ndarray]:
    """pygame's recorded sound effects (located, not imported), mono 16 kHz float in [-1, 1]."""
    spec = importlib.util.find_spec("pygame")
    if spec is None:
        raise SystemExit("pip install pygame (for its recorded sound effects)")
    data = Path(spec.submodule_search_locations[0]) / "examples" / "data"
    clips = {}
    for path in sorted(data.glob("*.wav")):
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            pcm = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(audio=0)
                for out in resampler.resample(frame)
            ]
        clips[f"recorded: {path.stem}"] = np.concatenate(pcm)
    return clips


def synthetic_sounds(rng: np.random.Generator) -> dict[str, np.ndarray]:
    clips = {}
    for ms in (40, 80, 150, 300):
        n = RATE * ms // 1000
        clips[f"noise burst {ms} ms"] = 0.5 * rng.standard_normal(n) * np.hanning(n)
    t = np.arange(RATE // 4) / RATE
    thump = 0.9 * np.sin(2 * np.pi * 70 * t) * np.exp(-t * 18)
    clips["low thump"] = thump
    clicks = np.zeros(RATE * 2)
    for at in rng.uniform(0, 1.95, 14):
        i = int(at * RATE)
        clicks[i : i + 80] += 0.6 * rng.standard_normal(80) * np.exp(-np.arange(80) / 12)
    clips["keyboard clicks"] = clicks
    return clips


def piper(engine: EmbeddedEngine, text: str) -> np.ndarray:
    pcm = np.concatenate(list(engine.stream(SynthesisRequest(text=text), threading.Event())))
    return soxr.resample(pcm.astype(np.float32) / 32768, engine.sample_rate, RATE)


def vad_onset(audio: np.ndarray, start_secs: float) -> float | None:
    """Seconds from the clip's first loud 20 ms frame to the VAD entering speech, or None."""
    vad = session_vad(TurnConfig(vad_start_secs=start_secs))
    vad.set_sample_rate(RATE)
    silence = np.zeros(RATE)
    padded = np.concatenate([silence, audio, silence])
    pcm = (np.clip(padded, -1, 1) * 32767).astype(np.int16)
    frames = [pcm[i : i + CHUNK] for i in range(0, len(pcm) - CHUNK + 1, CHUNK)]
    loud = next(
        (i for i, f in enumerate(frames) if np.sqrt(np.mean((f / 32768.0) ** 2)) >= LOUD), None
    )
    for i, frame in enumerate(frames):
        if vad._run_analyzer(frame.tobytes()) == VADState.SPEAKING:
            return (i - (loud if loud is not None else i)) * CHUNK / RATE + CHUNK / RATE
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=float, nargs="+", default=[0.064, 0.096, 0.12])
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    engine = EmbeddedEngine()
    engine.load()
    bot = piper(engine, BOT_TEXT)
    noises = {
        **pygame_effects(),
        **synthetic_sounds(rng),
        "echo residue -20 dB": bot * 0.1,
        "echo residue -30 dB": bot * 0.0316,
    }
    speech = {f"speech: {t}": piper(engine, t) for t in SPEECH}
    starts = args.start
    header = " | ".join(f"start {s:g} s" for s in starts)
    print(f"| non-speech clip (at {', '.join(map(str, LEVELS))}× level) | {header} |")
    print("|---" * (len(starts) + 1) + "|")
    totals = dict.fromkeys(starts, 0)
    for name, clip in noises.items():
        cells = []
        for s in starts:
            fired = sum(vad_onset(clip * level, s) is not None for level in LEVELS)
            totals[s] += fired
            cells.append(f"{fired}/{len(LEVELS)}")
        print(f"| {name} | {' | '.join(cells)} |")
    trials = len(noises) * len(LEVELS)
    print(
        f"| **false barge-ins, all** | {' | '.join(f'**{totals[s]}/{trials}**' for s in starts)} |"
    )
    print(
        f"\n| speech clip: VAD onset after the first loud 20 ms, ms (at {LEVELS}× level) | {header} |"
    )
    print("|---" * (len(starts) + 1) + "|")
    delays: dict[float, list[float]] = {s: [] for s in starts}
    for name, clip in speech.items():
        cells = []
        for s in starts:
            onsets = [vad_onset(clip * level, s) for level in LEVELS]
            delays[s] += [o for o in onsets if o is not None]
            cells.append(" / ".join("missed" if o is None else f"{o * 1000:.0f}" for o in onsets))
        print(f"| {name} | {' | '.join(cells)} |")
    medians = " | ".join(f"**{statistics.median(delays[s]) * 1000:.0f}**" for s in starts)
    print(f"| **median onset** | {medians} |")


if __name__ == "__main__":
    main()
