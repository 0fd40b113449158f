"""Sample-rate conversion: a low-latency streaming resampler and a one-shot soxr helper.

``soxr.ResampleStream`` was measured here to hold back 20–40 ms of audio (bursty output) when fed
10 ms blocks at every quality setting except the unfiltered ``QQ``; two such stages would eat the
whole capture-to-chunk budget. So streaming conversion uses a small windowed-sinc polyphase filter
(rational ratio, Kaiser window, 16 zero crossings of the lower rate each side: ~1 ms delay,
>60 dB stop band) whose output is delay-compensated: output sample ``n`` is the input signal at
time ``n / out_rate`` exactly, it only arrives ``delay_s`` later. Offline conversion (fixtures,
benches) uses ``soxr`` one-shot at HQ.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt
import soxr

FloatArray = npt.NDArray[np.float32]


def resample(x: npt.NDArray[np.floating], in_rate: int, out_rate: int) -> FloatArray:
    """Convert a whole signal with soxr (HQ); for fixtures and offline analysis."""
    if in_rate == out_rate:
        return np.asarray(x, dtype=np.float32)
    out: FloatArray = np.asarray(
        soxr.resample(np.asarray(x, dtype=np.float32), in_rate, out_rate, "HQ"), dtype=np.float32
    )
    return out


class StreamResampler:
    """Streaming rational-ratio resampler for blocks of any length (engine thread only).

    Args:
        in_rate: input sample rate.
        out_rate: output sample rate.
        zero_crossings: sinc zero crossings (of the lower rate) on each side of the filter centre.
        beta: Kaiser window shape.
    """

    def __init__(
        self, in_rate: int, out_rate: int, zero_crossings: int = 16, beta: float = 7.0
    ) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.in_rate = in_rate
        self.out_rate = out_rate
        g = gcd(in_rate, out_rate)
        self._up = out_rate // g
        self._down = in_rate // g
        self._identity = in_rate == out_rate
        ratio = min(1.0, out_rate / in_rate)
        half = int(np.ceil(zero_crossings / ratio))  # half length, in input samples
        self._half = half
        self._taps = 2 * half + 1
        cutoff = 0.92 * ratio  # of the input Nyquist: keeps aliasing out of the lower band
        # Row p holds the taps for an output instant p/up of an input sample past its base
        # sample; column m multiplies input sample base - half + m.
        m = np.arange(self._taps, dtype=np.float64)
        frac = np.arange(self._up, dtype=np.float64)[:, None] / self._up
        t = frac + half - m[None, :]
        span = half + 1.0
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (t / span) ** 2, 0.0, 1.0))) / np.i0(beta)
        bank = cutoff * np.sinc(cutoff * t) * window
        bank /= bank.sum(axis=1, keepdims=True)  # unity DC gain on every phase
        self._bank = bank
        self.delay_s = half / in_rate
        self._reset_state()

    def _reset_state(self) -> None:
        """Empty history (``half`` zeros stand for the input before t = 0) and zero counters."""
        self._buf = np.zeros(self._half, dtype=np.float64)
        self._buf_start = -self._half  # input index of _buf[0]
        self._in_count = 0
        self._out_count = 0

    @property
    def in_count(self) -> int:
        """Input samples consumed so far."""
        return self._in_count

    @property
    def out_count(self) -> int:
        """Output samples produced so far."""
        return self._out_count

    def process(self, x: npt.NDArray[np.floating]) -> FloatArray:
        """Feed one block; return every output sample whose filter window is complete."""
        if self._identity:
            self._in_count += len(x)
            self._out_count += len(x)
            return np.asarray(x, dtype=np.float32)
        self._buf = np.concatenate([self._buf, np.asarray(x, dtype=np.float64)])
        self._in_count += len(x)
        # Output n sits at input position n*down/up and needs inputs up to floor(pos) + half.
        last_base = self._in_count - 1 - self._half
        if last_base < 0:
            return np.zeros(0, dtype=np.float32)
        n_end = ((last_base + 1) * self._up - 1) // self._down + 1
        n = np.arange(self._out_count, n_end, dtype=np.int64)
        pos = n * self._down
        base = pos // self._up
        phase = pos - base * self._up
        start = base - self._half - self._buf_start
        windows = np.lib.stride_tricks.sliding_window_view(self._buf, self._taps)[start]
        y: npt.NDArray[np.float64] = np.einsum("nk,nk->n", windows, self._bank[phase])
        self._out_count = int(n_end)
        next_base = (self._out_count * self._down) // self._up
        keep_from = next_base - self._half - self._buf_start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from
        return y.astype(np.float32)

    def flush(self) -> FloatArray:
        """Feed ``half`` zeros so every output up to the last input arrives (end of stream)."""
        return self.process(np.zeros(self._half, dtype=np.float32))

    def reset(self) -> None:
        """Start a new stream (counters back to zero, history cleared)."""
        self._reset_state()
