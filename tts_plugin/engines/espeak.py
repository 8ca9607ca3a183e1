"""espeak-ng through ctypes, from the library and data that `espeakng-loader` ships.

Used for Mandarin (and as the fallback voice): formant synthesis, robotic but instant (RTF ~0.003)
and fully offline. espeak-ng keeps global state, so one process-wide instance is guarded by a lock.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

import numpy as np

from tts_plugin.engine import EngineError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_NEUTRAL_RATE_WPM = 175
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakSynth:
    """Synchronous espeak-ng synthesis of short texts to int16 arrays."""

    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None
    _sample_rate = 0

    def __init__(self) -> None:
        with self._lock:
            if EspeakSynth._lib is None:
                EspeakSynth._lib, EspeakSynth._sample_rate = _load()
        self._chunks: list[np.ndarray] = []
        self._should_stop: Callable[[], bool] = lambda: False
        # Kept on the instance: espeak calls back into it, so it must not be garbage collected.
        self._callback = _SYNTH_CALLBACK(self._on_audio)

    @property
    def sample_rate(self) -> int:
        """espeak-ng's output rate (22050 Hz)."""
        return self._sample_rate

    def _on_audio(self, wav, count, _events) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 1 if self._should_stop() else 0

    def synthesize(
        self,
        text: str,
        *,
        voice: str,
        rate: float = 1.0,
        pitch: float = 1.0,
        variation: float = 1.0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> np.ndarray:
        """Speak `text` with `voice`; rate/pitch/variation are multipliers on espeak's neutral."""
        lib = self._lib
        assert lib is not None
        data = text.encode("utf-8")
        with self._lock:
            self._chunks = []
            self._should_stop = should_stop
            lib.espeak_SetSynthCallback(self._callback)
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EngineError(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(_RATE, int(np.clip(_NEUTRAL_RATE_WPM * rate, 80, 450)), 0)
            lib.espeak_SetParameter(_PITCH, int(np.clip(50 + (pitch - 1.0) * 250, 0, 99)), 0)
            lib.espeak_SetParameter(_RANGE, int(np.clip(50 * variation, 0, 100)), 0)
            lib.espeak_SetParameter(_VOLUME, 100, 0)
            lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def _load() -> tuple[ctypes.CDLL, int]:
    try:
        import espeakng_loader
    except ModuleNotFoundError as e:
        raise EngineError(
            'espeak-ng is missing: pip install "pipecat-indextts2[embedded]" (espeakng-loader)'
        ) from e
    lib = ctypes.CDLL(str(espeakng_loader.get_library_path()))
    data_path = str(espeakng_loader.get_data_path()).encode()
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, data_path, 0)
    if sample_rate <= 0:
        raise EngineError(f"espeak-ng failed to initialise from {data_path.decode()}")
    return lib, sample_rate
