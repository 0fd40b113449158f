"""Streaming resampler: exact lengths, tone frequency, alignment, rejection of aliases."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.resample import StreamResampler, resample

PAIRS = [(48000, 16000), (44100, 16000), (16000, 24000), (24000, 16000), (16000, 48000)]


def _stream(r: StreamResampler, x: np.ndarray, block: int) -> np.ndarray:
    parts = [r.process(x[i : i + block]) for i in range(0, len(x), block)]
    parts.append(r.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_length_is_exact(src: int, dst: int) -> None:
    n = src * 3 + 7
    r = StreamResampler(src, dst)
    y = _stream(r, np.zeros(n, np.float32), src // 100)
    assert len(y) == -(-n * dst // src)  # ceil(n * dst / src)
    assert r.out_count == len(y)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_tone_keeps_frequency_phase_and_level(src: int, dst: int) -> None:
    f = 997.0
    x = (0.5 * np.sin(2 * np.pi * f * np.arange(src) / src)).astype(np.float32)
    y = _stream(StreamResampler(src, dst), x, 313)  # odd block size
    spectrum = np.abs(np.fft.rfft(y[: dst // 2 * 2] * np.hanning(dst // 2 * 2)))
    peak_hz = np.argmax(spectrum) * dst / (dst // 2 * 2)
    assert abs(peak_hz - f) < 2.0
    # Delay-compensated: sample n is the input at n / dst seconds.
    ref = 0.5 * np.sin(2 * np.pi * f * np.arange(len(y)) / dst)
    mid = slice(dst // 10, len(y) - dst // 10)
    assert np.max(np.abs(y[mid] - ref[mid])) < 1e-3


def test_downsampling_rejects_aliases() -> None:
    src, dst = 48000, 16000
    x = np.sin(2 * np.pi * 12000 * np.arange(src) / src).astype(np.float32)  # above 8 kHz
    y = _stream(StreamResampler(src, dst), x, 480)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 10 ** (-55 / 20)


def test_output_latency_is_small() -> None:
    r = StreamResampler(48000, 16000)
    worst = 0.0
    for _ in range(100):
        r.process(np.zeros(480, np.float32))
        worst = max(worst, r.in_count / 48000 - r.out_count / 16000)
    assert worst <= r.delay_s + 1 / 16000
    assert r.delay_s <= 0.002


def test_identity_and_one_shot() -> None:
    x = np.arange(10, dtype=np.float32)
    r = StreamResampler(16000, 16000)
    np.testing.assert_array_equal(r.process(x), x)
    y = resample(np.zeros(48000, np.float32), 48000, 16000)
    assert len(y) == 16000 and y.dtype == np.float32
