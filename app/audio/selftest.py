"""Device self-test maths: test signal, input level, echo delay and attenuation.

The echo is found by cross-correlating what the speaker played with what the microphone heard.

The engine (``AudioEngine.self_test``) plays the signal and records aligned mic/played blocks;
this module only analyses arrays, so it is unit-tested without a device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.audio.ringbuffer import FloatArray
from app.audio.telemetry import SILENCE_DBFS, peak_dbfs, rms_dbfs, to_dbfs

MIN_ECHO_CORRELATION = 0.2  # below this normalised peak no echo path is reported


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    """What the self-test found.

    Attributes:
        input_rms_dbfs: microphone RMS level during the test.
        input_peak_dbfs: microphone peak level during the test.
        output_rms_dbfs: level of what was written to the speaker.
        echo_delay_ms: speaker → microphone delay, None when no echo was found.
        echo_attenuation_db: how much quieter the echo is than the played signal (positive dB).
        echo_correlation: normalised cross-correlation peak (0..1).
        input_ok: the microphone delivered a signal above the noise floor.
        output_ok: the test signal was written to the device.
        message: a plain-words summary for the user.
    """

    input_rms_dbfs: float
    input_peak_dbfs: float
    output_rms_dbfs: float
    echo_delay_ms: float | None
    echo_attenuation_db: float | None
    echo_correlation: float
    input_ok: bool
    output_ok: bool
    message: str


def make_test_signal(rate: int, seconds: float = 1.0, level_dbfs: float = -12.0) -> FloatArray:
    """A logarithmic sweep (300 Hz → 3 kHz) with 10 ms fades: a clean tone, unambiguous to xcorr."""
    n = int(rate * seconds)
    t = np.arange(n, dtype=np.float64) / rate
    f0, f1 = 300.0, 3000.0
    k = math.log(f1 / f0) / max(seconds, 1e-3)
    phase = 2.0 * math.pi * f0 * (np.exp(k * t) - 1.0) / k
    signal = np.sin(phase) * (10.0 ** (level_dbfs / 20.0))
    fade = min(n // 2, int(rate * 0.01))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        signal[:fade] *= ramp
        signal[n - fade :] *= ramp[::-1]
    result: FloatArray = signal.astype(np.float32)
    return result


def estimate_echo(
    mic: FloatArray,
    far: FloatArray,
    rate: int,
    max_delay_ms: float = 500.0,
    segment_ms: float = 200.0,
) -> tuple[float | None, float | None, float]:
    """Estimate the echo path from ``far`` (played) to ``mic`` (captured, sample-aligned).

    The played signal is cut into segments; each is cross-correlated with the microphone over
    non-negative lags (the echo comes after the sound) and the best-matching segment wins. Short
    segments keep the estimate sharp when the echo path drifts or glitches (a resampling sound
    server loop on a loaded machine), which smears a whole-signal correlation.

    Returns:
        ``(delay_ms, attenuation_db, correlation)``; delay and attenuation are None when the best
        normalised correlation is below ``MIN_ECHO_CORRELATION``.
    """
    n = min(len(mic), len(far))
    x = np.asarray(far[:n], dtype=np.float64)
    y = np.asarray(mic[:n], dtype=np.float64)
    max_lag = min(n - 1, int(rate * max_delay_ms / 1000.0))
    seg = max(1, min(int(rate * segment_ms / 1000.0), n - max_lag))
    floor = 1e-9 * seg
    best = (0.0, 0, 0.0)  # (correlation, lag, gain)
    y_energy = np.concatenate([[0.0], np.cumsum(y * y)])
    for start in range(0, max(1, n - max_lag - seg + 1), max(1, seg // 2)):
        xs = x[start : start + seg]
        ex = float(np.dot(xs, xs))
        if ex <= floor:
            continue
        ys = y[start : start + seg + max_lag]
        size = 1 << (len(ys) + seg - 1).bit_length()
        xc = np.fft.irfft(np.fft.rfft(ys, size) * np.conj(np.fft.rfft(xs, size)), size)
        lags = np.abs(xc[: len(ys) - seg + 1])
        ey = y_energy[start + seg : start + seg + len(lags)] - y_energy[start : start + len(lags)]
        norm = lags / np.sqrt(ex * np.maximum(ey, floor))
        lag = int(np.argmax(norm))
        if norm[lag] > best[0]:
            best = (float(norm[lag]), lag, math.sqrt(max(float(ey[lag]), 0.0) / ex))
    correlation, lag, gain = best
    if correlation < MIN_ECHO_CORRELATION or gain <= 0.0:
        return None, None, correlation
    return lag * 1000.0 / rate, -to_dbfs(gain), correlation


def analyze(mic: FloatArray, far: FloatArray, rate: int) -> SelfTestResult:
    """Summarise a self-test recording (``mic`` and ``far`` sample-aligned as the callback saw)."""
    in_rms, in_peak, out_rms = rms_dbfs(mic), peak_dbfs(mic), rms_dbfs(far)
    delay, attenuation, corr = estimate_echo(mic, far, rate)
    input_ok = in_rms > SILENCE_DBFS + 30.0  # more than digital silence / a muted source
    output_ok = out_rms > -60.0
    parts = [
        "speaker: test signal played" if output_ok else "speaker: nothing was played",
        f"microphone: level {in_rms:.0f} dBFS" if input_ok else "microphone: no signal (muted?)",
    ]
    if delay is not None and attenuation is not None:
        parts.append(f"echo: {delay:.0f} ms delay, {attenuation:.0f} dB below the speaker")
    else:
        parts.append("echo: none detected")
    return SelfTestResult(
        input_rms_dbfs=in_rms,
        input_peak_dbfs=in_peak,
        output_rms_dbfs=out_rms,
        echo_delay_ms=delay,
        echo_attenuation_db=attenuation,
        echo_correlation=corr,
        input_ok=input_ok,
        output_ok=output_ok,
        message="; ".join(parts),
    )
