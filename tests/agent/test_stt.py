"""Speech recognition models resolved from the profile, never downloaded."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
from audio_analysis import word_recall
from faster_whisper import WhisperModel

from agent.config import ConfigError
from agent.stt import _FastTranscriber, resolve_whisper_model

pytestmark = pytest.mark.slow


def test_bundled_base_is_assembled_once_from_its_two_packages(tmp_path, speech):
    model_dir = resolve_whisper_model("bundled:base", cache_dir=tmp_path)
    assert (tmp_path / "whisper-base" / "model.bin").is_file()
    stamp = (tmp_path / "whisper-base" / "model.bin").stat().st_mtime_ns
    assert resolve_whisper_model("bundled:base", cache_dir=tmp_path) == model_dir
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_mtime_ns == stamp
    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    audio = soxr.resample(
        speech("What is the capital of France?").astype(np.float32) / 32768, 22050, 16000
    )
    segments, info = model.transcribe(audio, beam_size=1, temperature=0.0)
    # Piper's prosody varies run to run, so allow one misheard word.
    heard = " ".join(s.text for s in segments)
    assert word_recall("What is the capital of France?", heard) >= 0.8, heard
    assert info.language == "en"  # detected: the multilingual model, not tiny.en


def test_unknown_models_are_a_clear_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not bundled:tiny.en, bundled:base, or a CTranslate2"):
        resolve_whisper_model(str(tmp_path))


SENTENCES = [
    "What is the capital of France?",
    "Can you recommend a good book for a long train ride?",
    "Hello.",
    "Tell me a short story about a dragon who was afraid of the dark.",
]


@pytest.fixture(scope="module")
def tiny_en():
    from faster_whisper import WhisperModel

    return WhisperModel(resolve_whisper_model("bundled:tiny.en"), device="cpu", compute_type="int8")


def at_16k(audio: np.ndarray) -> np.ndarray:
    return soxr.resample(audio.astype(np.float32) / 32768, 22050, 16000)


def test_ctranslate2_still_encodes_windows_shorter_than_30_s(tiny_en):
    # The short window relies on it: faster-whisper itself always pads to 3000 frames.
    encoded = tiny_en.encode(np.zeros((80, 1000), np.float32))
    assert encoded.shape[1] == 500  # two frames per encoder position


def test_the_short_window_hears_what_the_full_window_hears(tiny_en, speech):
    fast = _FastTranscriber(tiny_en, beam_size=1)
    recalls = []
    for sentence in SENTENCES:
        audio = at_16k(speech(sentence))
        short, info = fast.transcribe(audio, language="en")
        full, _ = fast._full(audio, "en", None, None)
        # As good as the full window, give or take one word (Piper's prosody varies run to run,
        # and either window may mishear a word the other gets: a one-word "Hello." was heard as
        # "Oh well." by both on one run).
        heard, reference = short[0].text, " ".join(s.text for s in full)
        assert word_recall(sentence, heard) >= word_recall(sentence, reference) - 0.15, heard
        assert short[0].no_speech_prob < 0.5 and info.language == "en"
        recalls.append(word_recall(sentence, heard))
    assert sum(recalls) / len(recalls) >= 0.8, recalls


def test_a_phrase_said_twice_is_checked_on_the_full_window():
    from agent.stt import _repeats_itself

    assert _repeats_itself("Hello? Hello?") and _repeats_itself("go on, go on, go on")
    assert not _repeats_itself("Hello there.") and not _repeats_itself("")


def test_silence_is_no_speech_and_long_or_prompted_audio_takes_the_full_window(
    tiny_en, speech, monkeypatch
):
    fast = _FastTranscriber(tiny_en, beam_size=1)
    segments, _ = fast.transcribe(np.zeros(16000, np.float32), language="en")
    assert all(s.no_speech_prob > 0.5 for s in segments)
    full = []
    monkeypatch.setattr(fast, "_full", lambda *args, **kwargs: full.append(args) or ([], None))
    fast.transcribe(np.zeros(26 * 16000, np.float32), language="en")
    fast.transcribe(at_16k(speech("Hello.")), language="en", initial_prompt="Names: Ada.")
    assert len(full) == 2
