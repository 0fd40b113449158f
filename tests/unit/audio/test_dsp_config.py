"""DspConfig validation and the backend factory."""

from __future__ import annotations

import pytest

from app.audio.dsp import create_backend
from app.audio.dspconfig import DEFAULT_BACKEND, DspConfig


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "nope"},
        {"aec_tail_ms": 5},
        {"ns_level": 4},
        {"agc_target_dbfs": 3.0},
        {"agc_max_gain_db": -1.0},
        {"vad_threshold": 1.0},
        {"vad_min_speech_ms": -1},
    ],
)
def test_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DspConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["speex", "webrtc", "hybrid"])
def test_factory_builds_each_backend(backend: str) -> None:
    be = create_backend(DspConfig(backend=backend), 16000)  # type: ignore[arg-type]
    assert be.name == backend
    assert be.frame_size == 160
    be.close()


def test_default_backend_is_buildable() -> None:
    be = create_backend(DspConfig(), 16000)
    assert be.name == DEFAULT_BACKEND
    be.close()
