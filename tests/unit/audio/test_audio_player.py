"""Playback: immediate start, resampling, per-item counters, flush fade, stale, duck, jitter."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from app.audio import callback as callback_module
from app.audio.backend import FakeAudioBackend
from app.audio.callback import CallbackShared, DuplexCallback
from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.player import PlaybackState, Player
from app.audio.ringbuffer import BlockRing
from app.events import PlaybackDrained

CONFIG = AudioConfig(playback_capacity_s=4.0, capture_ring_blocks=16)
RATE = CONFIG.device_rate
FRAMES = CONFIG.block_frames


class Rig:
    """Player + the real callback driven block by block through FakeAudioBackend."""

    def __init__(self, config: AudioConfig = CONFIG) -> None:
        config = dataclasses.replace(config, output_on_demand=False)  # one duplex callback
        self.playback = PlaybackState(config)
        self.clock = PaClock()
        self.clock.set_nominal_latency(0.01, 0.02)
        self.player = Player(config, self.playback, self.clock)
        frames = config.block_frames
        self.shared = CallbackShared(
            BlockRing(16, frames, 2), BlockRing(8, frames, 1), self.playback
        )
        self.shared.generation = 1
        self.backend = FakeAudioBackend(record_blocks=1000)
        self.backend.open(config, DuplexCallback(self.shared, 1))

    def run(self, blocks: int) -> None:
        for _ in range(blocks):
            self.backend.step()
            while self.shared.capture.readable():
                self.shared.capture.release()

    def out(self) -> np.ndarray:
        return self.backend.played[: self.backend.blocks * FRAMES]


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32768).clip(-32768, 32767).astype("<i2").tobytes()


def dc(value: float, ms: float, rate: int = RATE) -> bytes:
    return pcm(np.full(int(rate * ms / 1000), value, np.float32))


def tone(ms: float, rate: int, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_playback_starts_in_the_first_block_and_counts_per_item() -> None:
    rig = Rig()
    before = time.monotonic()
    rig.player.enqueue(dc(0.5, 30), RATE, "r1", "a", 0)
    rig.player.enqueue(dc(0.25, 20), RATE, "r1", "b", 0)
    rig.run(6)
    after = time.monotonic()
    out = rig.out()
    np.testing.assert_array_equal(out[: 3 * FRAMES], 0.5)
    np.testing.assert_array_equal(out[3 * FRAMES : 5 * FRAMES], 0.25)
    assert not np.any(out[5 * FRAMES :])
    assert rig.player.played_ms("a") == 30.0
    assert rig.player.played_ms("b") == 20.0
    assert rig.player.played_ms("unknown") == 0.0
    onset_a, onset_b = rig.player.onset_at("a"), rig.player.onset_at("b")
    assert onset_a is not None and onset_b is not None
    assert before + 0.02 <= onset_a <= after + 0.02
    assert onset_b > onset_a
    last = rig.player.last_sample_at()
    assert last is not None and last >= onset_b


def test_session_rate_is_resampled_to_the_device_rate() -> None:
    rig = Rig()
    source = tone(200, 24_000)
    for start in range(0, len(source), 480):  # 20 ms deltas, as a provider sends them
        rig.player.enqueue(pcm(source[start : start + 480]), 24_000, "r1", "a", 0)
    rig.player.end_response("r1")
    rig.run(25)
    played = rig.out()
    assert abs(rig.player.played_ms("a") - 200.0) <= 1.0
    spectrum = np.abs(np.fft.rfft(played[: RATE // 5]))
    peak_hz = np.argmax(spectrum) * RATE / (RATE // 5)
    assert abs(peak_hz - 440.0) <= 10.0
    mid = played[2400:7200]
    assert 0.3 < float(np.sqrt(np.mean(mid**2))) < 0.4  # 0.5 amplitude sine: RMS 0.354


def test_flush_fades_within_5ms_then_silence_and_new_audio_plays() -> None:
    rig = Rig()
    rig.player.enqueue(pcm(tone(1000, RATE)), RATE, "r1", "a", 0)
    rig.run(10)
    epoch = rig.player.flush()
    assert epoch == 1
    rig.player.enqueue(dc(0.25, 20), RATE, "r2", "b", 0)  # before the callback saw the flush
    rig.run(4)
    out = rig.out()
    after = out[10 * FRAMES : 11 * FRAMES]
    nonzero = np.flatnonzero(after)
    assert len(nonzero) == 0 or nonzero[-1] < RATE * 0.005
    joined = out[10 * FRAMES - 1 : 11 * FRAMES]
    max_step_tone = 2 * np.pi * 440 / RATE * 0.5
    assert float(np.max(np.abs(np.diff(joined)))) <= max_step_tone * 1.5  # no click
    np.testing.assert_array_equal(out[11 * FRAMES : 13 * FRAMES], 0.25)  # next response plays
    assert rig.player.played_ms("a") == 100.0
    assert rig.player.queued_ms() == 0.0


def test_mark_stale_drops_queued_and_future_audio() -> None:
    rig = Rig()
    rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    rig.player.enqueue(dc(0.25, 20), RATE, "r2", "b", 0)
    rig.player.mark_stale("r1")
    rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    rig.run(3)
    out = rig.out()
    np.testing.assert_array_equal(out[: 2 * FRAMES], 0.25)
    assert not np.any(out[2 * FRAMES :])
    assert rig.player.played_ms("a") == 0.0 and rig.player.onset_at("a") is None
    assert rig.player.dropped_stale == 1


def test_duck_and_resume_ramp_within_one_block() -> None:
    rig = Rig()
    rig.player.enqueue(dc(0.5, 100), RATE, "r1", "a", 0)
    rig.run(1)
    rig.player.duck(0.25)
    rig.run(2)
    rig.player.resume()
    rig.run(2)
    out = rig.out()
    ramp = out[FRAMES : 2 * FRAMES]
    assert np.all(np.diff(ramp) <= 0) and abs(ramp[-1] - 0.125) < 1e-6
    np.testing.assert_allclose(out[2 * FRAMES : 3 * FRAMES], 0.125)
    up = out[3 * FRAMES : 4 * FRAMES]
    assert np.all(np.diff(up) >= 0) and abs(up[-1] - 0.5) < 1e-6
    np.testing.assert_allclose(out[4 * FRAMES : 5 * FRAMES], 0.5)
    assert rig.player.played_ms("a") == 50.0  # ducking keeps the queue


def test_underrun_in_an_item_grows_the_buffer_but_a_new_item_does_not() -> None:
    rig = Rig()
    rig.player.enqueue(dc(0.5, 25), RATE, "r1", "a", 0)
    rig.run(4)  # 25 ms played, then the ring runs dry mid-item
    rig.player.enqueue(dc(0.5, 10), RATE, "r1", "a", 0)  # the rest of "a" arrives late
    rig.run(1)
    assert rig.playback.underruns == 1
    assert rig.playback.target_frames == CONFIG.ms_to_frames(20)
    assert not np.any(rig.out()[4 * FRAMES :])  # rebuffering: waits for 20 ms (or as long)
    rig.run(3)
    assert rig.player.played_ms("a") == 35.0  # the short tail played after the wait
    rig.player.enqueue(dc(0.25, 40), RATE, "r2", "b", 0)  # a new item, delivered in a burst
    rig.run(1)
    assert rig.playback.underruns == 1  # a new item is not an underrun
    assert rig.player.played_ms("b") == 10.0  # the burst filled the target: no wait


class FakeClock:
    """Stands in for the callback's ``monotonic`` so decay can be tested without waiting."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def grow(rig: Rig, underruns: int) -> None:
    """Make item "a" underrun ``underruns`` times (5 ms arriving after the ring ran dry)."""
    for _ in range(underruns + 1):
        rig.player.enqueue(dc(0.5, 5), RATE, "r1", "a", 0)
        rig.run(25)  # longer than the largest wait (the bound, 200 ms by default)
        assert rig.playback.ring.read_count == rig.playback.ring.write_count


def test_grown_target_decays_after_clean_playback(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(callback_module, "monotonic", clock)
    config = AudioConfig(playback_capacity_s=4.0, playback_decay_s=2.0)
    rig = Rig(config)
    grow(rig, 3)
    step = config.ms_to_frames(config.playback_underrun_step_ms)
    assert rig.playback.underruns == 3
    assert rig.playback.target_frames == 3 * step
    rig.player.enqueue(dc(0.5, 3000), RATE, "r1", "c", 0)  # a long item, no underrun
    for _ in range(100):
        clock.t += 0.01
        rig.run(1)
    assert rig.player.played_ms("c") > 900.0
    assert rig.playback.target_frames == 3 * step  # 1 s clean: not yet
    for _ in range(110):
        clock.t += 0.01
        rig.run(1)
    assert rig.playback.target_frames == 2 * step  # > 2 s clean: one step down
    assert rig.playback.underruns == 3


def test_new_response_after_idle_starts_without_stale_growth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(callback_module, "monotonic", clock)
    config = AudioConfig(playback_capacity_s=4.0, playback_decay_s=2.0)
    rig = Rig(config)
    grow(rig, 4)
    assert rig.playback.target_frames == config.ms_to_frames(80)
    clock.t += 9.0  # idle long enough for four clean stretches
    rig.player.enqueue(dc(0.25, 10), RATE, "r2", "b", 0)  # a short, slow first delta
    rig.run(1)
    assert rig.playback.target_frames == 0  # back at the configured prebuffer (0)
    assert rig.player.played_ms("b") == 10.0  # played at once: no stale rebuffering
    assert rig.playback.underruns == 4


def test_jitter_target_is_bounded_separately_from_the_queue_limit() -> None:
    config = AudioConfig(
        playback_capacity_s=4.0, playback_max_buffer_ms=60_000, playback_max_jitter_ms=60
    )
    rig = Rig(config)
    grow(rig, 6)
    assert rig.playback.underruns == 6
    assert rig.playback.target_frames == config.ms_to_frames(60)


def test_prebuffer_applies_to_every_new_response() -> None:
    config = AudioConfig(playback_capacity_s=4.0, playback_prebuffer_ms=30)
    rig = Rig(config)
    for n, rid in enumerate(("r1", "r2")):
        rig.player.enqueue(dc(0.5, 20), RATE, rid, f"item{n}", 0)
        rig.run(1)
        assert rig.player.played_ms(f"item{n}") == 0.0  # holding until 30 ms are queued
        rig.player.enqueue(dc(0.5, 20), RATE, rid, f"item{n}", 0)
        rig.run(6)
        assert rig.player.played_ms(f"item{n}") == 40.0
    assert rig.playback.underruns == 0


def test_buffer_growth_is_bounded() -> None:
    config = AudioConfig(playback_capacity_s=4.0, playback_max_buffer_ms=40)
    rig = Rig(config)
    for _ in range(5):
        rig.player.enqueue(dc(0.5, 5), RATE, "r1", "a", 0)
        rig.run(8)
    assert rig.playback.underruns == 4
    assert rig.playback.target_frames == config.ms_to_frames(40)


def test_drained_is_reported_once_after_the_last_sample() -> None:
    rig = Rig()
    rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    assert rig.player.poll_drained(time.monotonic() + 10) is None  # queued, not played
    rig.run(3)
    last = rig.player.last_sample_at()
    assert last is not None
    assert rig.player.poll_drained(last - 0.001) is None  # still leaving the DAC
    assert rig.player.is_active(last - 0.001)
    drained = rig.player.poll_drained(last + 0.001)
    assert drained == PlaybackDrained(response_id="r1", at=last)
    assert rig.player.poll_drained(last + 1.0) is None
    assert not rig.player.is_active(last + 1.0)


def test_full_ring_drops_and_counts() -> None:
    rig = Rig(AudioConfig(playback_capacity_s=0.05))
    capacity = rig.playback.ring.capacity
    rig.player.enqueue(dc(0.5, capacity * 1000 / RATE), RATE, "r1", "a", 0)
    rig.player.enqueue(dc(0.5, 10), RATE, "r1", "a", 0)
    assert rig.player.dropped_samples == FRAMES


def test_slot_reuse_keeps_played_ms_of_retired_items() -> None:
    rig = Rig(AudioConfig(playback_capacity_s=4.0, item_slots=2))
    for name in ("a", "b", "c"):
        rig.player.enqueue(dc(0.5, 10), RATE, "r", name, 0)
        rig.run(1)
    assert [rig.player.played_ms(n) for n in ("a", "b", "c")] == [10.0, 10.0, 10.0]
