"""Test signals and the measurements the rig tests and benches share (tones, xcorr, onsets)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> FloatArray:
    """Return a sine tone with 5 ms raised-cosine fades (no clicks at the edges)."""
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    out = amplitude * np.sin(2.0 * np.pi * freq * t)
    fade = min(n // 2, round(0.005 * rate))
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
        out[:fade] *= ramp
        out[n - fade :] *= ramp[::-1]
    return out.astype(np.float32)


def chirp(f0: float, f1: float, seconds: float, rate: int, amplitude: float = 0.5) -> FloatArray:
    """Return a linear sweep from ``f0`` to ``f1`` Hz (sharp autocorrelation)."""
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    phase = 2.0 * np.pi * (f0 * t + 0.5 * (f1 - f0) / seconds * t * t)
    return (amplitude * np.sin(phase)).astype(np.float32)


def rms(x: npt.NDArray[np.floating]) -> float:
    """Return the root-mean-square of ``x`` (0.0 for an empty array)."""
    if x.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def align(reference: npt.NDArray[np.floating], recording: npt.NDArray[np.floating]) -> int:
    """Return the lag (in samples) at which ``reference`` best matches inside ``recording``.

    Uses FFT cross-correlation; a positive lag means the reference starts ``lag`` samples
    into the recording.
    """
    n = len(reference) + len(recording) - 1
    size = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spec, size)
    corr = np.concatenate((corr[-(len(reference) - 1) :], corr[: len(recording)]))
    return int(np.argmax(np.abs(corr))) - (len(reference) - 1)


def normalized_xcorr(
    reference: npt.NDArray[np.floating], recording: npt.NDArray[np.floating]
) -> tuple[float, int]:
    """Return ``(peak normalised correlation, lag)`` of ``reference`` inside ``recording``.

    The correlation is the Pearson-style cosine similarity of the reference with the aligned
    slice of the recording (1.0 = identical up to a positive gain). The part of the reference
    that falls outside the recording counts as silence.
    """
    lag = align(reference, recording)
    ref = np.asarray(reference, dtype=np.float64)
    seg = np.zeros_like(ref)
    lo, hi = max(lag, 0), min(lag + len(ref), len(recording))
    if hi > lo:
        seg[lo - lag : hi - lag] = recording[lo:hi]
    denom = float(np.linalg.norm(ref) * np.linalg.norm(seg))
    if denom == 0.0:
        return 0.0, lag
    return float(np.dot(ref, seg) / denom), lag


def first_above(x: npt.NDArray[np.floating], threshold: float, start: int = 0) -> int | None:
    """Return the index of the first sample at or after ``start`` with ``|x| >= threshold``."""
    hits = np.flatnonzero(np.abs(x[start:]) >= threshold)
    return int(hits[0]) + start if hits.size else None
