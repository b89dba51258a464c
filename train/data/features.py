"""Audio reading and log-mel filterbank features (paper 1 §3: 40 mel bands, 25 ms window, 10 ms hop).

Features are torchaudio's Kaldi-compatible ``fbank`` (Povey window, pre-emphasis 0.97, DC removal,
log of mel energies, no dither, so deterministic), the function sparch applies to HD and SC
audio. Difference from sparch, on purpose: sparch calls ``fbank`` on the file's samples with the
default ``sample_frequency=16000`` whatever the file's rate; here audio at another rate is first
resampled to 16 kHz (``torchaudio.functional.resample``) so the window really is 25 ms.
The waveform is in [-1, 1] (as ``torchaudio.load`` gives it, and as sparch feeds it).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.memory import check_fits

FEATURE_RATE_HZ = 16000
NUM_MEL_BINS = 40
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
#: Value of padded frames (sparch pads batches with zeros through ``pad_sequence``).
PAD_VALUE = 0.0


#: Bytes per decoded sample while reading: soundfile's float32 result and one float64 copy downstream.
BYTES_PER_DECODED_SAMPLE = 4 + 8


def audio_info(path: Path):
    """soundfile's header information (frames, rate, channels) of ``path``; FormatError if unreadable."""
    import soundfile

    try:
        return soundfile.info(str(path))
    except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise FormatError(f"{path}: not a readable audio file: {exc}") from None


def read_audio(path: str | os.PathLike, *, expected_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a mono audio file (WAV, FLAC, ...) as float32 in [-1, 1]; returns ``(samples, rate)``.

    Raises :class:`FormatError` naming the file if it is unreadable, not mono, empty, holds NaN or
    infinite samples (float WAVs can), (when ``expected_rate`` is given) at another sample rate, or
    longer than the memory available can hold (checked from its header, before decoding).
    """
    path = Path(path)
    info = audio_info(path)
    if info.channels != 1:
        raise FormatError(f"{path}: {info.channels} channels, expected mono (1 channel)")
    if expected_rate is not None and info.samplerate != expected_rate:
        raise FormatError(f"{path}: sample rate {info.samplerate} Hz, expected {expected_rate} Hz")
    check_fits(info.frames * info.channels * BYTES_PER_DECODED_SAMPLE,
               f"{path}: decoding {info.frames / max(info.samplerate, 1):.0f} s of audio", FormatError)
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, OSError) as exc:
        raise FormatError(f"{path}: cannot decode audio (truncated?): {exc}") from None
    if data.size == 0:
        raise FormatError(f"{path}: no audio samples")
    if not np.isfinite(data).all():
        first = int(np.flatnonzero(~np.isfinite(data))[0])
        raise FormatError(f"{path}: sample {first} is {data[first]}, expected finite audio samples")
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)


def import_torchaudio():
    """torchaudio (the ``snn-deploy[audio]`` extra), or one error line saying how to install it."""
    try:
        import torchaudio
    except ImportError as exc:
        raise SnnDeployError(
            f"HD/SC filterbank features need torchaudio ({exc}); install it with pip install 'snn-deploy[audio]' "
            "and the torchaudio release built for your torch") from None
    except OSError as exc:  # its compiled part was built for another torch (torchaudio declares no torch pin)
        import torch

        raise SnnDeployError(
            f"torchaudio does not fit torch {torch.__version__} ({str(exc).splitlines()[0][-120:]}); install the "
            f"torchaudio release of the same version as torch, e.g. pip install 'torchaudio=={torch.__version__.split('+')[0]}'") from None
    return torchaudio


def log_mel(samples: np.ndarray, sample_rate: int, *, num_mel_bins: int = NUM_MEL_BINS) -> np.ndarray:
    """Log-mel filterbank frames ``[frames, num_mel_bins]`` (float32) of a mono waveform."""
    import torch

    torchaudio = import_torchaudio()
    wav = torch.from_numpy(np.asarray(samples, dtype=np.float32)).unsqueeze(0)
    if sample_rate != FEATURE_RATE_HZ:
        wav = torchaudio.functional.resample(wav, sample_rate, FEATURE_RATE_HZ)
    min_len = int(FEATURE_RATE_HZ * FRAME_LENGTH_MS / 1000)
    if wav.shape[1] < min_len:  # fewer samples than one window: pad so that one frame exists
        wav = torch.nn.functional.pad(wav, (0, min_len - wav.shape[1]))
    feats = torchaudio.compliance.kaldi.fbank(
        wav,
        num_mel_bins=num_mel_bins,
        frame_length=FRAME_LENGTH_MS,
        frame_shift=FRAME_SHIFT_MS,
        sample_frequency=FEATURE_RATE_HZ,
        dither=0.0,
    )
    return feats.numpy().astype(np.float32, copy=False)


def fit_frames(feats: np.ndarray, time_steps: int) -> np.ndarray:
    """Crop to the first ``time_steps`` frames or pad the end with :data:`PAD_VALUE`."""
    out = np.full((time_steps, feats.shape[1]), PAD_VALUE, dtype=np.float32)
    n = min(time_steps, feats.shape[0])
    out[:n] = feats[:n]
    return out
