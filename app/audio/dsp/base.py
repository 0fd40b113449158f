"""The interface every capture DSP backend implements, plus small shared helpers.

A backend works on 10 ms mono float32 frames (range −1…1) at its ``rate``: the microphone frame
and the far-end frame that was played in the same callback. It returns two signals: ``upstream``
(what is sent to the provider) and ``detect`` (what the VAD listens to), plus a gate flag saying
whether speech may start on this frame. Single-strategy backends return the same array for both
and an open gate; the hybrid backend closes the gate while its double-talk detector is unsure.
"""

from __future__ import annotations

import abc
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.float32]


class DspUnavailableError(RuntimeError):
    """A backend's native library or wheel is missing; the message says what to install."""


class DspFrame(NamedTuple):
    """The two outputs of one processed frame.

    Attributes:
        upstream: cleaned audio to send to the provider.
        detect: cleaned audio for voice-activity / barge-in detection.
        speech_ok: False when ``detect`` may hold the assistant's echo rather than the user, so
            speech must not start on it (the VAD gate).
        unity: ``upstream`` before the backend's own gain stage (None: there is none, or it
            runs inside a library), for levels that must keep the talker's dynamics.
    """

    upstream: Frame
    detect: Frame
    speech_ok: bool = True
    unity: Frame | None = None


class DspBackend(abc.ABC):
    """One echo-cancel / noise / gain chain working on fixed 10 ms frames.

    Attributes:
        name: short backend name (``"speex"``, ``"webrtc"``, ``"hybrid"``).
        rate: sample rate of the frames.
        frame_size: samples per frame (``rate // 100``).
        latency_samples: algorithmic delay of ``upstream`` relative to the input, in samples.
        detect_latency_samples: the same for ``detect``.
    """

    name: str = "base"
    latency_samples: int = 0
    detect_latency_samples: int = 0

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.frame_size = rate // 100

    @abc.abstractmethod
    def process(self, near: Frame, far: Frame) -> DspFrame:
        """Clean one frame of microphone audio given the far-end frame played with it.

        Args:
            near: ``frame_size`` float32 microphone samples.
            far: ``frame_size`` float32 samples written to the speaker in the same callback.

        Returns:
            The cleaned frame(s); arrays may be reused by the next call, so copy to keep them.
        """

    def set_assistant_speaking(self, speaking: bool) -> None:  # noqa: B027 - optional hook
        """Tell the backend whether the assistant is talking (only the hybrid uses it)."""

    @property
    def speech_probability(self) -> float | None:
        """The backend's own speech probability for the last frame, if it computes one."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native state. The backend must not be used afterwards."""


def to_int16(x: Frame, out: npt.NDArray[np.int16]) -> None:
    """Convert float32 −1…1 to int16 into ``out``, rounding and clipping."""
    np.clip(np.rint(x * 32768.0), -32768.0, 32767.0, out=out, casting="unsafe")


def to_float32(x: npt.NDArray[np.int16], out: Frame) -> None:
    """Convert int16 samples to float32 −1…1 into ``out``."""
    np.multiply(x, 1.0 / 32768.0, out=out, casting="unsafe")


class HighPass:
    """A DC blocker / gentle high-pass, y[n] = x[n] − x[n−1] + a·y[n−1], vectorised per frame.

    The recursion is solved in closed form over one frame with float64 powers of ``a`` (stable
    for 10 ms frames: a^-N stays below ~100), so no per-sample Python loop runs.

    Args:
        rate: sample rate.
        cutoff_hz: −3 dB corner.
        frame_size: samples per frame (every call must pass exactly this many).
    """

    def __init__(self, rate: int, cutoff_hz: float, frame_size: int) -> None:
        self._a = float(np.exp(-2.0 * np.pi * cutoff_hz / rate))
        n = np.arange(1, frame_size + 1, dtype=np.float64)
        self._pow = self._a**n  # a^(n+1) for n = 0..N-1
        self._inv_pow = self._a ** (-n)
        self._x_prev = 0.0
        self._y_prev = 0.0

    def process(self, x: Frame) -> Frame:
        """Filter one frame; returns a new float32 array."""
        xd = x.astype(np.float64)
        d = np.empty_like(xd)
        d[0] = xd[0] - self._x_prev
        d[1:] = xd[1:] - xd[:-1]
        # y[n] = a^(n+1)·y_prev + Σ_{k≤n} a^(n−k)·d[k]  (n counted from 0)
        y = self._pow * (self._y_prev + np.cumsum(d * self._inv_pow))
        self._x_prev = float(xd[-1])
        self._y_prev = float(y[-1])
        return y.astype(np.float32)


class DelayLine:
    """Delay a stream of fixed-size frames by ``delay`` samples (preallocated, no growth).

    Args:
        delay: samples of delay (0 passes frames through unchanged).
        frame_size: samples per frame (every call must pass exactly this many).
    """

    def __init__(self, delay: int, frame_size: int) -> None:
        self.delay = delay
        self._buf = np.zeros(delay + frame_size, dtype=np.float32)
        self._out = np.zeros(frame_size, dtype=np.float32)
        self._n = frame_size

    def process(self, x: Frame) -> Frame:
        """Push one frame; return the frame ``delay`` samples older (reused array)."""
        if self.delay == 0:
            self._out[:] = x
            return self._out
        buf, d = self._buf, self.delay
        buf[d:] = x
        self._out[:] = buf[: self._n]
        buf[:d] = buf[self._n : self._n + d]
        return self._out
