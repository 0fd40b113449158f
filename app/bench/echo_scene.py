"""Synthetic acoustic-echo scenes: far-end speech through a room response, plus a near talker.

Used by the DSP unit tests and by ``voxdesk bench audio`` so both measure the same thing: the far
end convolved with a random exponentially decaying 150 ms room impulse response (60 dB decay, with
a direct path), delayed by 40 ms, at −6 dB, plus white noise at −70 dBFS; the near talker's
utterances are added at given times at about the echo's level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class EchoScene:
    """One synthetic capture: what was played, what the mic heard, and the ground truth.

    Attributes:
        rate: sample rate of every signal.
        far: the far-end (assistant) signal played to the speaker.
        mic: echo + near speech + noise, as the microphone captured it.
        echo: the echo component alone.
        near: the near talker alone (zeros where silent).
        near_spans: (first, last + 1) voiced sample index of each near utterance (the clip's
            leading and trailing silence excluded).
    """

    rate: int
    far: FloatArray
    mic: FloatArray
    echo: FloatArray
    near: FloatArray
    near_spans: tuple[tuple[int, int], ...]


def room_response(
    rate: int, tail_s: float = 0.15, seed: int = 1, decay_db: float = 60.0
) -> FloatArray:
    """A random room impulse response of unit energy with an exponential decay and direct path."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(tail_s * rate)) / rate
    rir = rng.standard_normal(len(t)) * np.exp(-t * decay_db / 20.0 * np.log(10.0) / tail_s)
    rir[0] = 3.0 * np.max(np.abs(rir[1:]))  # a clear direct path
    rir /= np.sqrt(np.sum(rir**2))
    out: FloatArray = rir.astype(np.float32)
    return out


def _fit(speech: npt.NDArray[np.floating], length: int) -> npt.NDArray[np.float64]:
    """Repeat ``speech`` (with 300 ms gaps) to exactly ``length`` samples."""
    gap = np.zeros(len(speech) // 10 + 1)
    unit = np.concatenate([np.asarray(speech, dtype=np.float64), gap])
    reps = length // len(unit) + 1
    return np.tile(unit, reps)[:length]


def _rms(x: npt.NDArray[np.floating]) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def make_echo_scene(
    far_speech: npt.NDArray[np.floating],
    rate: int,
    seconds: float,
    near_speech: npt.NDArray[np.floating] | None = None,
    near_at_s: Sequence[float] = (),
    *,
    delay_s: float = 0.04,
    echo_gain_db: float = -6.0,
    near_level_db: float = 0.0,
    noise_dbfs: float = -70.0,
    seed: int = 1,
) -> EchoScene:
    """Build a scene of ``seconds`` with continuous far-end speech and optional near utterances.

    Args:
        far_speech: far-end speech (repeated to fill the scene), peak ≤ 1.
        rate: sample rate.
        seconds: scene length.
        near_speech: the near talker's utterance, placed at each time in ``near_at_s``.
        near_at_s: onsets of the near utterances, in seconds.
        delay_s: acoustic delay of the echo.
        echo_gain_db: echo level relative to the far end (before the unit-energy room response).
        near_level_db: near speech RMS relative to the echo's RMS.
        noise_dbfs: white noise floor.
        seed: random seed (room response and noise).

    Returns:
        The scene, every signal float32 of ``round(seconds * rate)`` samples.
    """
    n = round(seconds * rate)
    far = _fit(far_speech, n) * 0.7 / max(1e-9, float(np.max(np.abs(far_speech))))
    rir = room_response(rate, seed=seed).astype(np.float64)
    d = round(delay_s * rate)
    echo = np.zeros(n)
    echo[d:] = np.convolve(far, rir)[: n - d] * 10 ** (echo_gain_db / 20.0)
    near = np.zeros(n)
    spans: list[tuple[int, int]] = []
    if near_speech is not None and len(near_at_s):
        clip = np.asarray(near_speech, dtype=np.float64)
        clip = clip * (_rms(echo) / max(_rms(clip[np.abs(clip) > 1e-3]), 1e-9))
        clip *= 10 ** (near_level_db / 20.0)
        voiced = np.flatnonzero(np.abs(clip) > 0.05 * np.max(np.abs(clip)))
        v0, v1 = int(voiced[0]), int(voiced[-1]) + 1
        for at in near_at_s:
            s = round(at * rate)
            e = min(n, s + len(clip))
            near[s:e] += clip[: e - s]
            spans.append((min(s + v0, e), min(s + v1, e)))
    rng = np.random.default_rng(seed + 1)
    noise = rng.standard_normal(n) * 10 ** (noise_dbfs / 20.0)
    mic = echo + near + noise
    f32 = np.float32
    return EchoScene(
        rate, far.astype(f32), mic.astype(f32), echo.astype(f32), near.astype(f32), tuple(spans)
    )
