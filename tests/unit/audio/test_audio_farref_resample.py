"""Far-end timeline (DAC-time alignment, cuts) and the low-delay playback upsampler."""

from __future__ import annotations

import numpy as np

from app.audio.farref import FarTimeline
from app.audio.streamresample import IntegerUpsampler, make_stream_resampler

RATE = 48_000
F = 480


def block(value: float) -> np.ndarray:
    return np.full(F, value, np.float32)


def test_reference_is_read_at_capture_time_plus_lead() -> None:
    tl = FarTimeline(RATE, lead_s=0.01)
    tl.add(block(0.5), dac_time=100.0, run=1)
    out = np.zeros(F, np.float32)
    tl.read(99.99, out)  # captured 10 ms before the block played: lead 10 ms → exactly it
    np.testing.assert_array_equal(out, 0.5)
    tl.read(100.0, out)  # the next 10 ms were never played
    assert not np.any(out)


def test_blocks_of_one_run_are_contiguous_despite_jitter_and_priming() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    tl.add(block(0.1), 10.0, run=1)
    tl.add(block(0.2), 10.0, run=1)  # priming: same reported time → follows the first
    tl.add(block(0.3), 10.0203, run=1)  # 0.3 ms of callback jitter → snapped
    out = np.zeros(3 * F, np.float32)
    tl.read(10.0, out)
    np.testing.assert_array_equal(out, np.repeat([0.1, 0.2, 0.3], F).astype(np.float32))


def _primed_run(tl: FarTimeline, start: float, late_s: float, real_blocks: int) -> None:
    """Three priming blocks dated from ``start`` (back-to-back callbacks), then real-time ones.

    The server really started the run ``late_s`` after ``start``: the real-time callbacks
    (10 ms apart) report that. Block ``k`` holds the value ``k + 1`` (tenths).
    """
    for k in range(3):
        tl.add(block((k + 1) / 10), start + k * 0.01, run=1, called_at=50.0 + k * 0.0002)
    for k in range(3, 3 + real_blocks):
        tl.add(block((k + 1) / 10), start + late_s + k * 0.01, 1, called_at=50.0 + k * 0.01)


def test_a_primed_run_moves_to_where_its_real_time_blocks_say_it_played() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    _primed_run(tl, 10.0, late_s=0.003, real_blocks=3)
    assert tl.moves == 1  # by 3 ms: the priming dated the run that much early
    assert tl.primed == (50.0, 50.0004, 144 / RATE)  # for the player's onset datings
    out = np.zeros(5 * F, np.float32)
    tl.read(10.003, out)
    expected = np.repeat([0.1, 0.2, 0.3, 0.4, 0.5], F).astype(np.float32)
    np.testing.assert_array_equal(out, expected)


def test_a_run_is_moved_once_and_never_over_what_was_already_read() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    head = np.zeros(F // 2, np.float32)
    for k in range(3):
        tl.add(block((k + 1) / 10), 20.0 + k * 0.01, run=1, called_at=60.0 + k * 0.0002)
    tl.read(20.0, head)  # the AEC already took the first 5 ms where the priming put them
    np.testing.assert_array_equal(head, np.float32(0.1))
    for k in range(3, 8):  # the run really started 4 ms earlier... then a late report
        late = 0.0 if k < 7 else 0.005
        tl.add(block((k + 1) / 10), 20.0 - 0.004 + late + k * 0.01, 1, called_at=60.0 + k * 0.01)
    assert tl.moves == 1  # once: the later 5 ms report does not move it again
    assert tl.primed is not None and tl.primed[2] == -192 / RATE
    out = np.zeros(F, np.float32)
    tl.read(20.005, out)  # 4 ms later in the run than where the read stopped; nothing twice
    np.testing.assert_array_equal(out[:48], np.float32(0.1))  # block 0 from 9 ms on (432 of 480)
    np.testing.assert_array_equal(out[48:], np.float32(0.2))


def test_disagreeing_real_time_reports_leave_the_run_where_it_was_laid() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    for k in range(3):
        tl.add(block(0.5), 30.0 + k * 0.01, run=1, called_at=70.0 + k * 0.0002)
    for k in range(3, 14):  # coarse reports under load: 0, 2, 4, 6 ... ms off, never agreeing
        off = (k % 4) * 0.002
        tl.add(block(0.5), 30.0 + off + k * 0.01, 1, called_at=70.0 + k * 0.01)
    assert tl.moves == 0 and tl.primed == (70.0, 70.0004, 0.0)
    out = np.zeros(F, np.float32)
    tl.read(30.0, out)
    np.testing.assert_array_equal(out, 0.5)
    tl.read(29.99, out)
    assert not np.any(out)


def test_outliers_do_not_shift_a_run_but_a_lasting_gap_re_anchors_it() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    tl.add(block(0.125), 30.0, run=1)
    tl.add(block(0.25), 30.03, run=1)  # one coarse report 20 ms late: still contiguous
    for k in range(2, 7):  # then a real 50 ms gap (xrun): five reports agree on it
        tl.add(block(0.375), 30.07 + k * 0.01, run=1)
    assert tl.resyncs == 1
    out = np.zeros(2 * F, np.float32)
    tl.read(30.0, out)
    np.testing.assert_array_equal(out, np.repeat([0.125, 0.25], F).astype(np.float32))
    tl.read(30.02, out)  # the first blocks after the gap still followed on (not yet believed)
    np.testing.assert_array_equal(out, 0.375)
    late = np.zeros(F, np.float32)
    tl.read(30.07 + 6 * 0.01, late)  # the re-anchored block sits at its reported time
    np.testing.assert_array_equal(late, 0.375)


def test_cut_removes_what_an_aborted_run_never_played() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    tl.add(block(0.5), 20.0, run=1)
    tl.add(block(0.5), 20.01, run=1)
    tl.cut(1, 20.005)  # aborted half-way through the first block
    tl.add(block(0.5), 20.02, run=1)  # a block still in the ring from the aborted run
    tl.add(block(0.25), 20.02, run=2)  # the next run starts
    out = np.zeros(3 * F, np.float32)
    tl.read(20.0, out)
    assert int(np.count_nonzero(out == 0.5)) == F // 2
    np.testing.assert_array_equal(out[2 * F :], 0.25)


def test_consumed_stretches_are_cleared_for_the_next_wrap() -> None:
    tl = FarTimeline(RATE, lead_s=0.0)
    tl.add(block(0.5), 1.0, run=1)
    out = np.zeros(F, np.float32)
    tl.read(1.0, out)
    assert np.all(out == 0.5)
    wrap = (1 << 17) / RATE  # the timeline's capacity in seconds
    tl.read(1.0 + wrap, out)
    assert not np.any(out)
    tl.add(block(0.7), 1.0 + wrap - 0.5, run=2)  # too late: its time was already read
    assert tl.late_blocks == 1


def test_upsampler_returns_every_chunk_at_once_with_a_small_delay() -> None:
    up = make_stream_resampler(24_000, 48_000)
    assert isinstance(up, IntegerUpsampler)
    assert up.delay_out_samples < 48  # < 1 ms at 48 kHz
    t = np.arange(24_000) / 24_000
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    chunks = [up.resample_chunk(x[i : i + 480]) for i in range(0, len(x), 480)]
    assert all(len(c) == 960 for c in chunks)  # no internal buffering
    y = np.concatenate([*chunks, up.resample_chunk(x[:0], last=True)])
    ref = 0.5 * np.sin(2 * np.pi * 440 * (np.arange(len(y)) - up.delay_out_samples) / 48_000)
    err = y[1000:-1000] - ref[1000:-1000]
    assert np.sqrt(np.mean(err**2)) < 1e-3  # accurate in the speech band


def test_upsampler_rejects_images() -> None:
    up = IntegerUpsampler(2)
    x = np.sin(2 * np.pi * 3000 * np.arange(24_000) / 24_000).astype(np.float32)
    y = up.resample_chunk(x)[1000 : 1000 + 32768]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 48_000)
    image = spectrum[np.argmin(np.abs(freqs - 21_000))]  # 24 kHz - 3 kHz
    assert 20 * np.log10(image / spectrum.max()) < -60.0


def test_non_integer_ratios_fall_back_to_soxr() -> None:
    rs = make_stream_resampler(44_100, 48_000)
    assert not isinstance(rs, IntegerUpsampler)
    out = rs.resample_chunk(np.zeros(4410, np.float32), last=True)
    assert abs(len(out) - 4800) <= 2
