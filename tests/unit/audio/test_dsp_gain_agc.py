"""The speech-level AGC that runs after the hybrid's mix: adapts on the user only, never clips."""

from __future__ import annotations

import numpy as np

from app.audio.dsp.gain import SpeechAgc

N = 160


def _frames(level_dbfs: float, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    amp = 10.0 ** (level_dbfs / 20.0)
    return [(rng.standard_normal(N) * amp).astype(np.float32) for _ in range(count)]


def _db(x: np.ndarray) -> float:
    return 10.0 * float(np.log10(np.mean(np.square(x, dtype=np.float64))))


def test_quiet_speech_is_brought_towards_the_target_within_the_gain_cap() -> None:
    agc = SpeechAgc(target_dbfs=-18.0, max_gain_db=30.0, frame_size=N)
    out = [agc.process(f, speech=True).copy() for f in _frames(-30.0, 300)]  # 3 s
    assert abs(agc.gain_db - 12.0) < 1.0
    assert abs(_db(np.concatenate(out[-50:])) + 18.0) < 1.5
    capped = SpeechAgc(target_dbfs=-18.0, max_gain_db=6.0, frame_size=N)
    for f in _frames(-40.0, 300):
        capped.process(f, speech=True)
    assert capped.gain_db <= 6.0 + 1e-9


def test_frames_not_attributed_to_the_user_never_raise_the_gain() -> None:
    agc = SpeechAgc(target_dbfs=-18.0, max_gain_db=30.0, frame_size=N)
    frames = _frames(-40.0, 200)
    out = [agc.process(f, speech=False).copy() for f in frames]
    assert agc.gain_db == 0.0
    assert agc.level_dbfs is None
    np.testing.assert_array_equal(np.concatenate(out), np.concatenate(frames))


def test_the_limiter_keeps_peaks_below_full_scale_after_a_quiet_stretch() -> None:
    agc = SpeechAgc(target_dbfs=-18.0, max_gain_db=30.0, frame_size=N)
    for f in _frames(-45.0, 400):
        agc.process(f, speech=True)
    assert agc.gain_db > 20.0
    peaks = [float(np.max(np.abs(agc.process(f, speech=True)))) for f in _frames(-6.0, 50, 1)]
    assert max(peaks) <= 1.0
    assert agc.gain_db < 3.0
