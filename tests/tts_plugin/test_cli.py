"""`python -m tts_plugin` as a user runs it: a subprocess, real engine, real files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import wave

import numpy as np
import pytest
from audio_analysis import rms, transcribe, word_recall

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tts_plugin", *args], capture_output=True, timeout=120
    )


def test_say_writes_an_intelligible_wav(tmp_path, whisper):
    out = tmp_path / "hello.wav"
    text = "Hello, it is lovely to meet you today."
    result = run_cli("say", text, "--emotion", "happy", "--out", str(out))
    assert result.returncode == 0, result.stderr.decode()
    status = result.stderr.decode()
    assert "loaded in" in status and "first chunk" in status
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22050, 1, 2)
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert word_recall(text, transcribe(whisper, audio, 22050)) >= 0.8


def test_say_streams_raw_pcm_to_stdout():
    result = run_cli("say", "你好，世界。", "--out", "-", "--emotion", "calm:0.5")
    assert result.returncode == 0, result.stderr.decode()
    audio = np.frombuffer(result.stdout, dtype=np.int16)
    assert len(audio) > 0.5 * 22050 and rms(audio) > 500
    assert b"RIFF" not in result.stdout[:4]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--emotion", "furious"], "valid presets: neutral"),
        (["--emotion-vector", "1,2"], "has 8 values"),
        (["--emotion-vector", "a,b"], "comma-separated numbers"),
        (["--speed", "7"], "speed must be in"),
        (["--intensity", "3"], "intensity must be in [0, 1]"),
    ],
)
def test_bad_input_is_a_clear_message_not_a_traceback(tmp_path, args, message):
    result = run_cli("say", "Hi", "--out", str(tmp_path / "x.wav"), *args)
    stderr = result.stderr.decode()
    assert result.returncode == 2
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "x.wav").exists()


def test_unwritable_output_is_reported(tmp_path):
    result = run_cli("say", "Hi", "--out", str(tmp_path / "missing" / "x.wav"))
    assert result.returncode == 1 and "No such file" in result.stderr.decode()


def test_emotions_lists_the_presets():
    result = run_cli("emotions")
    assert result.returncode == 0 and b"melancholic" in result.stdout and b"lively" in result.stdout


def test_say_with_the_indextts2_engine(tmp_path, tiny_model_dir):
    # Both generations, in this environment: the project's extras, no torchaudio anywhere.
    assert importlib.util.find_spec("torchaudio") is None
    out = tmp_path / "tiny.wav"
    result = run_cli(
        "say", "Hello there, how are you?", "--out", str(out), "--emotion", "sad",
        "--engine", "indextts2", "--model-dir", str(tiny_model_dir), "--device", "cpu",
        "--diffusion-steps", "2", "--max-codes", "40", "--no-text-normalization",
    )  # fmt: skip
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "indextts2 engine loaded in" in stderr and "first chunk" in stderr
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22050, 1, 2)
        seconds = wav.getnframes() / 22050
    per_code = 1.72 if (tiny_model_dir / "bpe.model").exists() else 2 * 1.72  # 50 or 25 codes/s
    assert seconds == pytest.approx(40 * per_code * 256 / 22050, rel=0.1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the indextts2 engine needs a model dir (--model-dir"),
        (["--model-dir", "/nonexistent"], "IndexTTS model dir not found"),
        (["--device", "cuda"], "device 'cuda' is not available"),
        (["--device", "gpu0"], "unknown device 'gpu0'"),
    ],
)
def test_indextts2_without_a_usable_setup_is_a_clear_message(
    tmp_path, tiny_indextts25, args, message
):
    if args[:1] == ["--device"]:
        args = ["--model-dir", str(tiny_indextts25), *args]
    result = run_cli("say", "Hi", "--out", str(tmp_path / "x.wav"), "--engine", "indextts2", *args)
    stderr = result.stderr.decode()
    assert result.returncode == 2 and message in stderr and "Traceback" not in stderr
