"""Offline speech synthesis with espeak-ng through the ``espeakng-loader`` wheel (ctypes, no system package).

The wheel ships ``libespeak-ng.so`` and ``espeak-ng-data``; this module calls the C API of
``speak_lib.h`` (espeak-ng 1.52) directly:
``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, 0)`` (returns the sample rate,
22050 Hz), ``espeak_SetSynthCallback`` (receives 16-bit PCM blocks), ``espeak_SetVoiceByName``
("en-us+f2": language + voice variant), ``espeak_SetParameter`` (rate in words/min, pitch and
pitch range 0-100, volume), ``espeak_Synth`` + ``espeak_Synchronize``.

Determinism: espeak-ng draws pitch flutter and breath noise from its own generator and libc's
``rand()`` (both seeded here per call), and it also keeps synthesis state in static variables that
``espeak_Terminate``/``espeak_Initialize`` do not reset, so the same call gives different samples
depending on what was spoken before (measured: lengths drift by tens of samples). Each
:func:`synthesize` therefore loads a fresh copy of the library (``dlopen`` after ``dlclose``,
~3 ms), which makes the output a function of (text, voice, seed) only, whatever the call order or
the number of worker processes.
"""
from __future__ import annotations

import _ctypes
import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snn_deploy.errors import SnnDeployError

# speak_lib.h constants
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
POS_CHARACTER = 1
EE_OK = 0
PARAM_RATE, PARAM_VOLUME, PARAM_PITCH, PARAM_RANGE = 1, 2, 3, 4

SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class VoiceSettings:
    """One synthetic speaker: espeak language + variant, and prosody parameters."""

    language: str  # espeak voice name, e.g. "en-us", "de"
    variant: str  # espeak voice variant (espeak-ng-data/voices/!v), e.g. "f2", "m3", "klatt2"
    rate_wpm: int = 175  # words per minute (espeak default 175; 80..450)
    pitch: int = 50  # base pitch 0..100 (espeak default 50)
    pitch_range: int = 50  # intonation range 0..100 (0 = monotone)
    volume: int = 100  # amplitude 0..200

    @property
    def voice_name(self) -> str:
        return f"{self.language}+{self.variant}"


def _paths() -> tuple[str, Path]:
    try:
        import espeakng_loader
    except ImportError:
        raise SnnDeployError("espeak-ng is not available: pip install espeakng-loader") from None
    return espeakng_loader.get_library_path(), Path(espeakng_loader.get_data_path())


def _load(lib_path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(lib_path)
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]
    return lib


def sample_rate() -> int:
    """espeak-ng's output rate (22050 Hz for the bundled voices)."""
    return synthesize_with_rate("a", VoiceSettings("en-us", "m1"))[1]


def synthesize(text: str, voice: VoiceSettings, *, seed: int = 0) -> np.ndarray:
    """Speak ``text`` with ``voice``: float32 samples in [-1, 1] at :func:`sample_rate`."""
    return synthesize_with_rate(text, voice, seed=seed)[0]


def synthesize_with_rate(text: str, voice: VoiceSettings, *, seed: int = 0) -> tuple[np.ndarray, int]:
    """Like :func:`synthesize`, also returning the sample rate; a fresh library instance per call."""
    lib_path, data = _paths()
    lib = _load(lib_path)
    chunks: list[np.ndarray] = []

    def on_audio(wav, n, events):  # called synchronously from espeak_Synth
        if n > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = SYNTH_CALLBACK(on_audio)
    try:
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data.parent).encode(), 0)
        if rate <= 0:
            raise SnnDeployError(f"espeak-ng failed to initialise with data in {data} (returned {rate})")
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.voice_name.encode()) != EE_OK:
            raise SnnDeployError(f"espeak-ng has no voice '{voice.voice_name}'")
        for param, value in (
            (PARAM_RATE, voice.rate_wpm), (PARAM_PITCH, voice.pitch),
            (PARAM_RANGE, voice.pitch_range), (PARAM_VOLUME, voice.volume),
        ):
            lib.espeak_SetParameter(param, int(value), 0)
        lib.espeak_ng_SetRandSeed(int(seed))
        ctypes.CDLL(None).srand(ctypes.c_uint(int(seed) & 0xFFFFFFFF))
        data_bytes = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data_bytes)
        status = lib.espeak_Synth(buf, len(data_bytes), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        if status != EE_OK:
            raise SnnDeployError(f"espeak-ng could not synthesize {text!r} (status {status})")
    finally:
        lib.espeak_Terminate()
        handle = lib._handle
        del lib
        _ctypes.dlclose(handle)  # the next call starts from a clean library state
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return pcm.astype(np.float32) / 32768.0, int(rate)
