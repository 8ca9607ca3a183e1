"""The agent's VAD enters speech on a lower loudness floor than it stays in speech on."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from agent.vad import HysteresisSileroVADAnalyzer

pytestmark = pytest.mark.slow
CHUNK = 320  # 20 ms at 16 kHz


def states(analyzer, audio: np.ndarray) -> list[VADState]:
    """The VAD state after each 20 ms chunk (as the transport feeds it)."""
    analyzer.set_sample_rate(16000)
    pcm = audio.astype(np.int16).tobytes()
    return [analyzer._run_analyzer(pcm[i : i + 2 * CHUNK]) for i in range(0, len(pcm), 2 * CHUNK)]


def first(seen: list[VADState], state: VADState, after: int = 0) -> int:
    return next(i for i, s in enumerate(seen) if i >= after and s == state)


def test_a_quiet_onset_starts_sooner_and_the_turn_still_ends_on_time(speech):
    quiet = soxr.resample(speech("Wait, stop please.").astype(np.float32), 22050, 16000) * 0.25
    silence = np.zeros(16000, np.float32)
    audio = np.concatenate([silence, quiet, silence, silence])
    params = dict(confidence=0.7, start_secs=0.096, stop_secs=0.2)
    plain = states(SileroVADAnalyzer(params=VADParams(min_volume=0.6, **params)), audio)
    low = states(SileroVADAnalyzer(params=VADParams(min_volume=0.3, **params)), audio)
    both = states(
        HysteresisSileroVADAnalyzer(
            start_min_volume=0.3, params=VADParams(min_volume=0.6, **params)
        ),
        audio,
    )
    start = first(both, VADState.SPEAKING)
    assert start == first(low, VADState.SPEAKING) < first(plain, VADState.SPEAKING)
    # Once speaking it keeps Pipecat's floor: the turn ends no later than with the low floor.
    assert first(both, VADState.QUIET, after=start) <= first(low, VADState.QUIET, after=start)
