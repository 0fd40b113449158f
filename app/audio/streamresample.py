"""Streaming resamplers for playback: low delay, output for every input chunk.

``soxr.ResampleStream`` processes in large internal blocks: at 24 → 48 kHz with quality "HQ" a
20 ms chunk yields nothing, the next one ~35 ms, and so on. Fed at real-time pace, the playback
ring then runs dry between bursts (audible gaps) and the first delta of an answer reaches the
ring only when the second one arrives. Providers send 24 kHz and devices run at 48 kHz, an
integer ratio, so playback uses a polyphase windowed-sinc interpolator that returns every
chunk's samples at once with a fixed ~0.5 ms group delay; other ratios fall back to soxr.

Thread: one instance per tagged stream, used by the session thread only (not real-time code:
it allocates).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
import soxr

FloatArray = npt.NDArray[np.float32]

TAPS_PER_PHASE = 24  # filter length per output phase; group delay ≈ TAPS_PER_PHASE/2 input samples
CUTOFF = 0.9  # passband edge as a fraction of the input Nyquist frequency
KAISER_BETA = 8.0  # ≈ 80 dB stopband


class StreamResampler(Protocol):
    """A streaming mono resampler."""

    def resample_chunk(self, x: FloatArray, last: bool = False) -> FloatArray:
        """Resample the next chunk; ``last=True`` also returns the held-back tail."""
        ...


def _design(ratio: int) -> npt.NDArray[np.float64]:
    """Polyphase bank ``(ratio, TAPS_PER_PHASE)`` of a Kaiser-windowed sinc interpolator."""
    n_taps = ratio * TAPS_PER_PHASE
    n = np.arange(n_taps) - (n_taps - 1) / 2.0
    h = np.sinc(CUTOFF * n / ratio) * np.kaiser(n_taps, KAISER_BETA)
    bank = h.reshape(TAPS_PER_PHASE, ratio).T.copy()  # bank[p, k] = h[k * ratio + p]
    bank /= bank.sum(axis=1, keepdims=True)  # unit DC gain on every phase
    return bank


class IntegerUpsampler:
    """Upsamples by an integer ``ratio`` with a fixed delay and no internal buffering.

    Args:
        ratio: output rate / input rate (≥ 2).
    """

    def __init__(self, ratio: int) -> None:
        if ratio < 2:
            raise ValueError("ratio must be at least 2")
        self.ratio = ratio
        self._bank = _design(ratio)
        self._history = np.zeros(TAPS_PER_PHASE - 1, dtype=np.float64)

    @property
    def delay_out_samples(self) -> float:
        """Group delay in output samples."""
        return (self.ratio * TAPS_PER_PHASE - 1) / 2.0

    def resample_chunk(self, x: FloatArray, last: bool = False) -> FloatArray:
        """Return ``ratio * len(x)`` samples (plus the filter tail when ``last``)."""
        data = np.asarray(x, dtype=np.float64)
        if last:
            data = np.concatenate([data, np.zeros(TAPS_PER_PHASE // 2, dtype=np.float64)])
        if len(data) == 0:
            return np.zeros(0, dtype=np.float32)
        ext = np.concatenate([self._history, data])
        self._history = ext[len(ext) - (TAPS_PER_PHASE - 1) :].copy()
        out = np.empty((len(data), self.ratio), dtype=np.float64)
        for p in range(self.ratio):
            out[:, p] = np.convolve(ext, self._bank[p], mode="valid")
        return out.reshape(-1).astype(np.float32)


class _SoxrStream:
    """soxr fallback for non-integer ratios."""

    def __init__(self, in_rate: int, out_rate: int, quality: str) -> None:
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)

    def resample_chunk(self, x: FloatArray, last: bool = False) -> FloatArray:
        out: FloatArray = self._stream.resample_chunk(np.asarray(x, np.float32), last=last)
        return out


def make_stream_resampler(in_rate: int, out_rate: int, quality: str = "HQ") -> StreamResampler:
    """The playback resampler for ``in_rate`` → ``out_rate``.

    Integer upsampling ratios get the low-delay ``IntegerUpsampler``; anything else soxr with
    ``quality`` (which buffers internally, see the module docstring).
    """
    if out_rate > in_rate and out_rate % in_rate == 0:
        return IntegerUpsampler(out_rate // in_rate)
    return _SoxrStream(in_rate, out_rate, quality)
