"""Speech recognition models resolved from the profile, never downloaded."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
from audio_analysis import word_recall
from faster_whisper import WhisperModel

from agent.config import ConfigError
from agent.stt import resolve_whisper_model

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
