"""Silero VAD that enters speech on a lower loudness floor than it stays in speech on.

Pipecat counts a window as speech when Silero is confident and a smoothed volume (~0.4 s of
memory) clears `min_volume`. At a quiet onset that smoothed volume climbs late, which delays
barge-in; a floor that low for the whole turn hears a sentence's quiet tail as speech and ends
every turn late. So the floor is `start_min_volume` while quiet or starting, `min_volume` once
speaking.
"""

from __future__ import annotations

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from agent.config import TurnConfig


class HysteresisSileroVADAnalyzer(SileroVADAnalyzer):
    """`SileroVADAnalyzer` with separate loudness floors to start and to stay in speech."""

    def __init__(self, *, start_min_volume: float, params: VADParams, **kwargs) -> None:
        super().__init__(params=params, **kwargs)
        self._start_min_volume = start_min_volume
        self._stay_min_volume = params.min_volume

    @property
    def pausing(self) -> bool:
        """Whether speech has just paused: Silero stopped hearing it, `stop_secs` not yet over."""
        return self._vad_state == VADState.STOPPING

    def _run_analyzer(self, buffer: bytes) -> VADState:
        entering = self._vad_state in (VADState.QUIET, VADState.STARTING)
        self._params.min_volume = self._start_min_volume if entering else self._stay_min_volume
        return super()._run_analyzer(buffer)


def session_vad(turns: TurnConfig) -> HysteresisSileroVADAnalyzer:
    """The VAD a session runs, from the profile's turn settings."""
    return HysteresisSileroVADAnalyzer(
        start_min_volume=turns.vad_start_min_volume,
        params=VADParams(
            confidence=turns.vad_confidence,
            start_secs=turns.vad_start_secs,
            stop_secs=turns.vad_stop_secs,
            min_volume=turns.vad_min_volume,
        ),
    )
