"""Debian's headless Chromium with a fake microphone playing a WAV, for the page's tests."""

from __future__ import annotations

import shutil
import threading
import wave
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soxr

from tts_plugin.engine import SynthesisRequest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def microphone_wav(engine, path: Path) -> Path:
    """30 s of 'microphone': a question at 1 s, an interruption at 13 s, silence otherwise."""
    rate = 48000
    track = np.zeros(30 * rate, dtype=np.int16)
    for at, text in ((1.0, "What is the capital of France?"), (13.0, "Wait, stop please.")):
        speech = np.concatenate(list(engine.stream(SynthesisRequest(text=text), threading.Event())))
        speech = soxr.resample(speech.astype(np.float32) / 32768, 22050, rate)
        start = int(at * rate)
        track[start : start + len(speech)] = (np.clip(speech, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(track.tobytes())
    return path


@contextmanager
def chromium_page(microphone: Path, *extra_args: str, locale: str = "en-US"):
    """A page in a fresh headless Chromium whose microphone plays `microphone` (looped), its
    languages `locale` (what the page's language follows)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
                "--autoplay-policy=no-user-gesture-required", f"--lang={locale}", *extra_args,
            ],
        )  # fmt: skip
        try:
            yield browser.new_page(viewport={"width": 900, "height": 1100}, locale=locale)
        finally:
            browser.close()
