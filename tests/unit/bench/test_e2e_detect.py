from __future__ import annotations

import numpy as np
import pytest

from app.bench.e2e_detect import (
    DetectionError,
    active_bounds,
    count_gaps,
    db_to_amp,
    duck_point,
    first_sound,
    heard_onset,
    heard_position,
    locate,
    probe_signal,
    silence_from,
    to_pcm16,
)
from app.harness.signals import chirp

RATE = 48000


def _place(signal: np.ndarray, at: int, total: int) -> np.ndarray:
    out = np.zeros(total, dtype=np.float32)
    out[at : at + len(signal)] = signal[: total - at]
    return out


def test_locate_finds_a_probe_in_noise_at_its_exact_lag():
    probe = probe_signal(0.5, RATE, seed=3)
    rng = np.random.default_rng(1)
    rec = _place(0.5 * probe, 12345, RATE * 2)
    rec += (rng.standard_normal(len(rec)) * 0.02).astype(np.float32)
    found = locate(probe, rec)
    assert found.lag == 12345
    assert found.corr > 0.8


def test_locate_rejects_an_absent_reference():
    probe = probe_signal(0.3, RATE, seed=3)
    other = probe_signal(1.0, RATE, seed=4)
    with pytest.raises(DetectionError):
        locate(probe, other, min_corr=0.5)


def test_active_bounds_of_a_padded_clip():
    tone = chirp(200, 2000, 0.4, RATE, amplitude=0.4)
    clip = _place(tone, 4800, 4800 + len(tone) + 9600)
    start, end = active_bounds(clip, RATE)
    assert abs(start - 4800) <= 48
    assert abs(end - (4800 + len(tone))) <= 48 * 3


def test_active_bounds_of_silence_raises():
    with pytest.raises(DetectionError):
        active_bounds(np.zeros(RATE, np.float32), RATE)


def test_first_sound_and_silence_from_bracket_a_burst():
    burst = probe_signal(0.25, RATE, seed=9)
    rec = _place(burst, 10000, RATE)
    onset = first_sound(rec)
    assert onset is not None and 10000 <= onset <= 10000 + 96  # within the 2 ms fade
    end = silence_from(rec, onset, RATE, hold_ms=20)
    assert end is not None and abs(end - (10000 + len(burst))) <= 96
    assert first_sound(np.zeros(100, np.float32)) is None


def test_silence_from_is_none_when_sound_never_stops():
    rec = probe_signal(0.5, RATE, seed=2)
    assert silence_from(rec, 0, RATE, hold_ms=20) is None


def test_silence_from_ignores_short_gaps():
    a = probe_signal(0.2, RATE, seed=1)
    rec = np.concatenate([a, np.zeros(240, np.float32), a, np.zeros(RATE // 10, np.float32)])
    end = silence_from(rec, 0, RATE, hold_ms=20)
    assert end is not None and abs(end - (2 * len(a) + 240)) <= 96


def test_duck_point_finds_a_10_db_drop():
    sig = probe_signal(1.0, RATE, seed=5)
    ducked = sig.copy()
    ducked[30000:] *= db_to_amp(-14)
    at = duck_point(ducked, 24000, RATE, drop_db=10)
    assert at is not None and 30000 - 240 <= at <= 30000 + 480
    assert duck_point(sig, 24000, RATE, drop_db=10) is None


def test_duck_point_needs_sound_before_the_trigger():
    with pytest.raises(DetectionError):
        duck_point(np.zeros(RATE, np.float32), 24000, RATE)


def test_heard_position_maps_the_last_sample_back_despite_a_gap_and_gain():
    ref = probe_signal(2.0, RATE, seed=11)
    heard = np.concatenate([ref[:20000], np.zeros(480, np.float32), 0.3 * ref[20000:50000]])
    rec = np.concatenate([np.zeros(7000, np.float32), heard, np.zeros(RATE // 4, np.float32)])
    end = silence_from(rec, 7000, RATE, hold_ms=50)
    assert end is not None
    pos = heard_position(ref, rec, end, probe=RATE // 50)
    assert abs(pos - 50000) <= 96


def test_heard_position_rejects_unrelated_audio():
    ref = probe_signal(1.0, RATE, seed=11)
    rec = probe_signal(1.0, RATE, seed=12)
    with pytest.raises(DetectionError):
        heard_position(ref, rec, RATE // 2, probe=RATE // 50)


def test_count_gaps_counts_dropouts_but_not_the_edges():
    a = probe_signal(0.1, RATE, seed=1)
    gap = np.zeros(480, np.float32)
    rec = np.concatenate([gap, a, gap, a, gap, a, gap])
    assert count_gaps(rec, 0, len(rec), RATE) == 2
    assert count_gaps(probe_signal(1.0, RATE, seed=4), 0, RATE, RATE) == 0


def test_probe_signal_is_steady_and_repeatable():
    a = probe_signal(1.0, 24000, seed=7)
    b = probe_signal(1.0, 24000, seed=7)
    assert np.array_equal(a, b)
    levels = [float(np.sqrt(np.mean(a[i : i + 480] ** 2))) for i in range(480, 23000, 480)]
    assert max(levels) / min(levels) < 2.0
    pcm = to_pcm16(a)
    assert len(pcm) == 2 * len(a)


def test_duck_point_ref_follows_a_speech_like_reference_through_pauses():
    from app.bench.e2e_detect import duck_point_ref

    parts = [probe_signal(0.3, RATE, seed=s) for s in range(4)]
    tone = parts[0]
    pause = np.zeros(RATE // 5, np.float32)
    ref = np.concatenate([parts[0], pause, parts[1], pause, parts[2], parts[3]])
    rec = np.concatenate([np.zeros(5000, np.float32), ref.copy()])
    trigger = 5000 + len(tone) + 1000  # inside the pause: level-only detection would fire here
    duck_at = 5000 + 2 * len(tone) + len(pause) + len(pause) // 2
    rec[duck_at:] *= db_to_amp(-12)
    at = duck_point_ref(ref, rec, trigger, RATE)
    assert at is not None
    assert duck_at - 480 <= at <= duck_at + 480 + len(pause)


def test_last_sound_finds_the_end_of_a_burst_inside_a_window():
    from app.bench.e2e_detect import last_sound

    burst = probe_signal(0.2, RATE, seed=3)
    rec = _place(burst, 1000, RATE)
    end = last_sound(rec, 0, RATE)
    assert end is not None and abs(end - (1000 + len(burst))) <= 96
    assert last_sound(rec, 1000 + len(burst) + 10, RATE) is None


@pytest.mark.parametrize(("first_ms", "gap_ms"), [(20, 30), (20, 50), (40, 40), (10, 60)])
def test_heard_onset_is_the_first_chunk_even_when_playback_stalled_after_it(first_ms, gap_ms):
    """A jitter underrun after the first chunk must not move the onset to after the gap."""
    probe = probe_signal(1.0, RATE, seed=5)
    pre, first, gap = 2400, first_ms * RATE // 1000, gap_ms * RATE // 1000
    rec = np.concatenate(
        [np.zeros(pre), 0.5 * probe[:first], np.zeros(gap), 0.5 * probe[first:], np.zeros(RATE)]
    ).astype(np.float32)
    assert heard_onset(probe, rec, RATE) == pre
    # the long probe alone locks onto the audio after the stall
    assert locate(probe[: RATE // 5], rec).lag == pre + gap


def test_heard_onset_without_a_gap_is_the_probe_lag():
    probe = probe_signal(1.0, RATE, seed=6)
    rec = _place(0.3 * probe, 7777, 2 * RATE)
    assert heard_onset(probe, rec, RATE) == 7777


def test_heard_onset_raises_when_the_signal_is_absent():
    probe = probe_signal(1.0, RATE, seed=7)
    other = probe_signal(2.0, RATE, seed=8)
    with pytest.raises(DetectionError):
        heard_onset(probe, other, RATE)
