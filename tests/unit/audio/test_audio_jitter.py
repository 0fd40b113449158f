"""ArrivalJitter: the playout hold learned from when an answer's deltas arrive."""

from __future__ import annotations

import math
import random

import pytest

from app.audio.jitter import ArrivalJitter

READ_AHEAD = 0.030  # the output's latency: it reads this far ahead of the DAC


def paced(jitter: ArrivalJitter, key: str, t0: float, lates: list[float]) -> float:
    """Feed 20 ms deltas sent in real time, delta k arriving ``lates[k]`` s after its due time."""
    hold = 0.0
    for k, late in enumerate(lates):
        hold = jitter.arrive(key, 0.020, t0 + k * 0.020 + late, READ_AHEAD)
    return hold


def burst(jitter: ArrivalJitter, key: str, t0: float, deltas: int) -> float:
    """Feed ``deltas`` 20 ms deltas arriving together (a provider far ahead of real time)."""
    hold = 0.0
    for _ in range(deltas):
        hold = jitter.arrive(key, 0.020, t0, READ_AHEAD)
    return hold


def test_nothing_is_known_before_a_second_delta() -> None:
    jitter = ArrivalJitter(memory=4, margin_ms=10, bound_ms=200)
    assert jitter.need_s == -math.inf
    assert jitter.arrive("a", 0.020, 5.0, READ_AHEAD) == 0.0


def test_a_provider_ahead_of_real_time_is_not_held() -> None:
    jitter = ArrivalJitter(memory=4, margin_ms=10, bound_ms=200)
    assert burst(jitter, "a", 1.0, 10) == 0.0


def test_a_real_time_stream_is_held_by_the_read_ahead_and_the_margin() -> None:
    # on time, each delta arrives just as the one before it has played; the output reads
    # READ_AHEAD before the DAC, so it would find each one missing without the hold
    jitter = ArrivalJitter(memory=4, margin_ms=10, bound_ms=200)
    assert paced(jitter, "a", 1.0, [0.0] * 10) == pytest.approx(READ_AHEAD + 0.010)


def test_the_hold_covers_the_worst_lateness() -> None:
    jitter = ArrivalJitter(memory=4, margin_ms=10, bound_ms=200)
    hold = paced(jitter, "a", 1.0, [0.0, 0.005, 0.041, -0.010, 0.002, 0.0])
    assert hold == pytest.approx(0.041 + READ_AHEAD + 0.010)


def test_a_late_delta_inside_the_priming_needs_no_margin() -> None:
    # the first READ_AHEAD of audio is read at the start itself: a delta in it must only
    # have arrived by then
    jitter = ArrivalJitter(memory=4, margin_ms=10, bound_ms=200)
    jitter.arrive("a", 0.020, 1.0, READ_AHEAD)
    assert jitter.arrive("a", 0.020, 1.004, READ_AHEAD) == pytest.approx(0.004)


def test_lateness_is_measured_from_the_first_delta_not_the_sender_clock() -> None:
    jitter = ArrivalJitter(memory=4, margin_ms=0, bound_ms=200)
    # the first delta is itself 40 ms late and the rest on time: playback anchored at the first
    # arrival has them all 40 ms early, which covers the read-ahead
    assert paced(jitter, "a", 1.0, [0.040, 0.0, 0.0, 0.0, 0.0]) == pytest.approx(0.0)


def test_seeded_uniform_send_jitter_is_bounded_by_its_spread() -> None:
    rng = random.Random(11)
    jitter = ArrivalJitter(memory=8, margin_ms=10, bound_ms=200)
    for n in range(8):
        lates = [rng.uniform(0.0, 0.060) for _ in range(100)]
        hold = paced(jitter, f"a{n}", 10.0 * n, lates)
        assert READ_AHEAD + 0.010 < hold <= 0.060 + READ_AHEAD + 0.010 + 1e-9


def test_memory_keeps_the_worst_of_the_last_streams_then_forgets_it() -> None:
    jitter = ArrivalJitter(memory=2, margin_ms=10, bound_ms=200)
    assert paced(jitter, "bad", 0.0, [0.0, 0.0, 0.0, 0.050]) == pytest.approx(0.090)
    assert burst(jitter, "ok1", 1.0, 4) == pytest.approx(0.090)  # remembered
    assert burst(jitter, "ok2", 2.0, 4) == pytest.approx(0.090)  # still within memory
    assert burst(jitter, "ok3", 3.0, 4) == 0.0  # "bad" is forgotten


def test_the_hold_is_bounded() -> None:
    jitter = ArrivalJitter(memory=2, margin_ms=10, bound_ms=120)
    assert paced(jitter, "a", 0.0, [0.0, 0.9]) == pytest.approx(0.120)


def test_memory_must_hold_a_stream() -> None:
    with pytest.raises(ValueError):
        ArrivalJitter(memory=0, margin_ms=10, bound_ms=200)
