"""The SpeexDSP ctypes binding: library loading, errors, speech probability, high-pass helper."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from app.audio.dsp import DspUnavailableError, create_backend
from app.audio.dsp import speex as speex_mod
from app.audio.dsp.base import HighPass
from app.audio.dspconfig import DspConfig


def test_missing_library_names_the_apt_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lib(name: str) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(speex_mod, "_lib", None)
    monkeypatch.setattr(speex_mod.ctypes, "CDLL", no_lib)
    with pytest.raises(DspUnavailableError, match=r"apt-get install libspeexdsp1"):
        create_backend(DspConfig(backend="speex"), 16000)


def test_speech_probability_and_close_are_safe() -> None:
    be = create_backend(DspConfig(backend="speex"), 16000)
    rng = np.random.default_rng(0)
    for _ in range(50):
        be.process(rng.standard_normal(160).astype(np.float32) * 0.05, np.zeros(160, np.float32))
    prob = be.speech_probability
    assert prob is not None and 0.0 <= prob <= 1.0
    be.close()
    be.close()  # idempotent


def test_runs_at_24_khz() -> None:
    be = create_backend(DspConfig(backend="speex"), 24000)
    out = be.process(np.zeros(240, np.float32), np.zeros(240, np.float32))
    assert out.upstream.shape == (240,)
    be.close()


def test_high_pass_matches_the_recursion_and_removes_dc() -> None:
    hp = HighPass(16000, 80.0, 160)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(1600) * 0.1 + 0.5).astype(np.float32)
    y = np.concatenate([hp.process(x[i : i + 160]) for i in range(0, 1600, 160)])
    a = float(np.exp(-2 * np.pi * 80.0 / 16000))
    ref = np.zeros(1600)
    xp = yp = 0.0
    for n in range(1600):
        ref[n] = x[n] - xp + a * yp
        xp, yp = float(x[n]), ref[n]
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert abs(float(np.mean(y[800:]))) < 0.01
