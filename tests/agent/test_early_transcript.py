"""A turn transcribed when its speech goes quiet, used only if the rest of the turn stays quiet."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soxr
from audio_analysis import word_recall
from pipecat.audio.vad.vad_analyzer import VADState

from agent.config import TurnConfig
from agent.early_transcript import EarlyTranscriber
from agent.stt import _FastTranscriber, resolve_whisper_model
from agent.vad import HysteresisSileroVADAnalyzer, session_vad

pytestmark = pytest.mark.slow

PADDING = 8000  # Pipecat's 0.5 s of trailing silence at 16 kHz
CHUNK = 320  # the transport's 20 ms
KWARGS = {"language": "en", "hotwords": None, "initial_prompt": None}


class Counting:
    """The shared transcriber, counting what it is asked to transcribe."""

    def __init__(self, transcriber: _FastTranscriber) -> None:
        self._transcriber = transcriber
        self.calls = 0

    def transcribe(self, audio, **kwargs):
        self.calls += 1
        return self._transcriber.transcribe(audio, **kwargs)


@pytest.fixture(scope="module")
def whisper():
    from faster_whisper import WhisperModel

    model = WhisperModel(
        resolve_whisper_model("bundled:tiny.en"), device="cpu", compute_type="int8"
    )
    return _FastTranscriber(model, beam_size=1)


def pcm16k(speech, text: str) -> np.ndarray:
    audio = soxr.resample(speech(text).astype(np.float32), 22050, 16000)
    return np.clip(audio, -32768, 32767).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(16000 * seconds), np.int16)


def vad() -> HysteresisSileroVADAnalyzer:
    """The agent's VAD at its default settings."""
    analyzer = session_vad(TurnConfig())
    analyzer.set_sample_rate(16000)
    return analyzer


def segment_of(buffer: bytearray) -> np.ndarray:
    """What Pipecat's Whisper service transcribes: the turn, 0.5 s of silence, as floats."""
    return np.frombuffer(bytes(buffer) + bytes(2 * PADDING), np.int16).astype(np.float32) / 32768


def heard(early: EarlyTranscriber, buffer: bytearray, **kwargs) -> str:
    segments, _ = early.transcribe(segment_of(buffer), **{**KWARGS, **kwargs})
    return " ".join(s.text for s in segments)


def run_turn(early: EarlyTranscriber, turn: np.ndarray) -> str:
    """Feed a turn in real time as the pipeline does (the STT sees each chunk, then the VAD
    analyses it) until the VAD stops, then transcribe the segment it hands over."""
    analyzer, buffer = vad(), bytearray()
    early.reset()
    audio = np.concatenate([turn, silence(1.0)])
    for start in range(0, len(audio), CHUNK):
        chunk = audio[start : start + CHUNK].tobytes()
        buffer += chunk
        early.observe(chunk, buffer, pausing=analyzer.pausing, padding=PADDING, **KWARGS)
        was = analyzer._vad_state
        if analyzer._run_analyzer(chunk) == VADState.QUIET and was == VADState.STOPPING:
            return heard(early, buffer)
        time.sleep(CHUNK / 16000)
    raise AssertionError("the VAD never stopped")


def feed(early: EarlyTranscriber, turn: np.ndarray, pausing: list[bool]) -> bytearray:
    """Feed a turn with a scripted VAD: `pausing[i]` for the i-th 20 ms chunk."""
    early.reset()
    buffer = bytearray()
    for i, start in enumerate(range(0, len(turn), CHUNK)):
        chunk = turn[start : start + CHUNK].tobytes()
        buffer += chunk
        early.observe(chunk, buffer, pausing=pausing[i], padding=PADDING, **KWARGS)
    early._running.result()  # as if the turn went on long enough for the run to finish
    return buffer


def test_a_turn_that_ends_quietly_is_answered_by_its_early_transcript(whisper, speech):
    shared = Counting(whisper)
    early = EarlyTranscriber(shared)
    text = run_turn(early, pcm16k(speech, "What is the capital of France?"))
    assert early.used == 1
    assert shared.calls == 1  # the early run only; the segment was not transcribed again
    assert word_recall("What is the capital of France?", text) >= 0.8, text


def test_speech_after_the_snapshot_is_never_lost(whisper, speech):
    first, rest = pcm16k(speech, "Tell me about"), pcm16k(speech, "the history of France.")
    turn = np.concatenate([first, silence(0.06), rest])
    chunks = -(-len(turn) // CHUNK)
    pause = len(first) // CHUNK + 2
    # The VAD heard the pause, then speech again.
    shared = Counting(whisper)
    early = EarlyTranscriber(shared)
    buffer = feed(early, turn, [pause <= i < pause + 2 for i in range(chunks)])
    text = heard(early, buffer)
    assert early.used == 0 and shared.calls == 2  # the early run, then the whole segment
    assert word_recall("Tell me about the history of France.", text) >= 0.8, text
    # The VAD missed the speech after the pause: the loud audio after the snapshot still counts.
    early = EarlyTranscriber(Counting(whisper))
    buffer = feed(early, turn, [i >= pause for i in range(chunks)])
    text = heard(early, buffer)
    assert early.used == 0
    assert word_recall("Tell me about the history of France.", text) >= 0.8, text


def test_other_settings_or_a_new_turn_never_reuse_a_snapshot(whisper, speech):
    turn = np.concatenate([pcm16k(speech, "Hello there."), silence(0.1)])
    quiet_from = (len(turn) - 1600) // CHUNK
    pausing = [i >= quiet_from for i in range(-(-len(turn) // CHUNK))]
    shared = Counting(whisper)
    early = EarlyTranscriber(shared)
    buffer = feed(early, turn, pausing)
    heard(early, buffer, language=None)
    assert early.used == 0 and shared.calls == 2
    buffer = feed(early, turn, pausing)
    early.reset()
    heard(early, buffer)
    assert early.used == 0 and shared.calls == 4
    # The same turn, transcribed as it was snapped: the early transcript answers it.
    buffer = feed(early, turn, pausing)
    assert "hello" in heard(early, buffer).lower()
    assert early.used == 1 and shared.calls == 5
