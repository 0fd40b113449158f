"""Minimal WAV I/O for fixtures: mono/stereo 16-bit PCM in, float32 out (stdlib ``wave`` only)."""

from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def read_wav(path: Path) -> tuple[FloatArray, int]:
    """Read a 16-bit PCM WAV file as float32 mono in [-1, 1).

    Multi-channel files are averaged to mono. Samples are ``int16 / 32768`` exactly, so a file
    played bit-exactly through the rig compares equal after the same scaling.

    Returns:
        ``(samples, rate)``.

    Raises:
        ValueError: The file is not 16-bit PCM.
    """
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path.name}: only 16-bit PCM is supported")
        channels = w.getnchannels()
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return data, rate


def write_wav(
    path: Path, samples: npt.NDArray[np.floating] | npt.NDArray[np.int16], rate: int
) -> Path:
    """Write mono samples as a 16-bit PCM WAV file, atomically.

    Args:
        path: Destination file.
        samples: float samples in [-1, 1] (clipped), or int16 samples (written as-is).
        rate: Sample rate in Hz.

    Returns:
        ``path``.
    """
    if samples.dtype == np.int16:
        pcm = samples.astype("<i2")
    else:
        scaled = np.clip(np.asarray(samples, dtype=np.float64) * 32768.0, -32768, 32767)
        pcm = np.round(scaled).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
