"""Playback: immediate start, resampling, per-item counters, flush fade, stale, duck, jitter."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from app.audio import callback as callback_module
from app.audio import player as player_module
from app.audio.callback import CallbackShared, DuplexCallback
from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.fake_backend import FakeAudioBackend
from app.audio.player import ONSET_DATING_WAIT_S, REBUFFER_HEADROOM, PlaybackState, Player
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


def test_an_onset_from_a_primed_start_waits_for_its_run_to_be_re_dated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = Rig()
    rig.clock.redating = True  # separate streams: the engine re-dates each primed output run
    rig.player.enqueue(dc(0.5, 30), RATE, "r1", "a", 0)
    rig.run(3)
    as_primed = rig.player.onset_at("a", final=True)  # nothing more will play: best known
    assert as_primed is not None
    assert rig.player.onset_at("a") is None  # the engine has not laid that block yet
    rig.clock.note_run(0.0, None, time.monotonic())
    assert rig.player.onset_at("a") is None  # laid, but its run is not re-dated yet
    rig.clock.note_run(0.0, (0.0, time.monotonic(), 0.004), time.monotonic())
    assert rig.player.onset_at("a") == pytest.approx(as_primed + 0.004, abs=1e-9)
    # A run that never gets re-dated (aborted at once) is taken as primed after a while.
    rig.player.enqueue(dc(0.5, 30), RATE, "r2", "b", 0)
    rig.run(3)
    rig.clock.note_run(0.0, None, time.monotonic())  # a new run, never re-dated
    assert rig.player.onset_at("b") is None
    real = time.monotonic
    monkeypatch.setattr(player_module.time, "monotonic", lambda: real() + ONSET_DATING_WAIT_S)
    assert rig.player.onset_at("b") == rig.player.onset_at("b", final=True)


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


QUIET = 10 ** (-60 / 20)  # under the audible floor (-50 dBFS)


def test_the_last_audible_sample_is_the_last_loud_one_as_heard() -> None:
    """The meter's "silence": a quiet tail is not heard, nor is audio ducked under the floor."""
    rig = Rig()
    rig.clock.valid, rig.clock.offset = True, 0.0  # DAC times: the fake backend's sample clock
    assert rig.player.last_audible_at() is None
    rig.player.enqueue(dc(0.5, 25) + dc(QUIET, 40), RATE, "r1", "a", 0)
    rig.run(8)
    onset = rig.player.onset_at("a")
    assert onset is not None
    assert rig.player.last_audible_at() == pytest.approx(onset + 0.025, abs=1e-9)
    assert rig.player.last_sample_at() == pytest.approx(onset + 0.065, abs=1e-9)
    rig.player.enqueue(dc(0.5, 100), RATE, "r2", "b", 0)
    rig.run(2)
    onset = rig.player.onset_at("b")
    assert onset is not None
    assert rig.player.last_audible_at() == pytest.approx(onset + 0.020, abs=1e-9)
    rig.player.duck(QUIET)  # the ramp down is heard almost to its end; then nothing is
    rig.run(1)
    ramped = rig.player.last_audible_at()
    assert ramped is not None and onset + 0.025 < ramped < onset + 0.030
    rig.run(3)
    assert rig.player.last_audible_at() == ramped
    assert rig.player.last_sample_at() == pytest.approx(onset + 0.060, abs=1e-9)


def test_audio_lost_in_an_aborted_output_was_never_heard() -> None:
    rig = Rig()
    rig.player.attach_output(lambda: None)  # on-demand output: a flush aborts the device buffer
    rig.player.enqueue(dc(0.5, 500), RATE, "r1", "a", 0)
    rig.run(5)
    rig.clock.output_latency_s = 0.5  # a deep device buffer: no test-thread stall outlasts it
    written = rig.player.last_audible_at()
    before = time.monotonic()
    assert written is not None and written > before  # still in the device buffer
    rig.player.flush()
    after = time.monotonic()
    cut = rig.player.last_audible_at()
    assert cut is not None and before <= cut <= after
    rig.clock.output_latency_s = 0.02  # the Rig's own, for the next answer's playout
    rig.player.enqueue(dc(0.5, 20), RATE, "r2", "b", 0)  # audio after the abort is heard
    rig.run(3)
    onset = rig.player.onset_at("b")
    last = rig.player.last_audible_at()
    assert onset is not None and last is not None and last > onset > after


class SharedClock:
    """The monotonic clock of the player (delta arrivals) and the callback, stepped by tests."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class JitterRig(Rig):
    """A Rig on a stepped clock: every block advances it by one block's duration."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, config: AudioConfig = CONFIG) -> None:
        super().__init__(config)
        self.now = SharedClock()
        monkeypatch.setattr(callback_module, "monotonic", self.now)
        config = dataclasses.replace(config, output_on_demand=False)
        self.player = Player(config, self.playback, self.clock, arrival_clock=self.now)

    def run(self, blocks: int) -> None:
        for _ in range(blocks):
            super().run(1)
            self.now.t += FRAMES / RATE


MARGIN = CONFIG.playback_jitter_margin_ms
READ_AHEAD = 20  # ms: the Rig's nominal output latency


def test_a_late_delta_raises_the_target_and_the_gap_rebuffers_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = JitterRig(monkeypatch)
    rig.player.enqueue(dc(0.5, 25), RATE, "r1", "a", 0)
    rig.run(4)  # 25 ms played at once (nothing learned yet), then the ring runs dry mid-item
    rig.now.t += 0.020  # the rest of "a" arrives 60 ms after the first 25 ms
    rig.player.enqueue(dc(0.5, 10), RATE, "r1", "a", 0)
    need = 60 - (25 - READ_AHEAD) + MARGIN  # read READ_AHEAD before it plays, plus the margin
    assert rig.playback.target_frames == CONFIG.ms_to_frames(need)
    rig.run(1)
    assert rig.playback.underruns == 1
    waits = int(REBUFFER_HEADROOM * need // CONFIG.block_ms)
    rig.run(waits - 1)
    assert rig.player.played_ms("a") == 25.0  # rebuffering: the target with headroom
    rig.run(3)
    assert rig.player.played_ms("a") == 35.0  # then the short tail plays
    rig.now.t += 1.0
    rig.player.enqueue(dc(0.25, 200), RATE, "r2", "b", 0)  # the next answer, in one burst
    rig.run(int(need // CONFIG.block_ms) + 1)  # blocks at +0 … +60 ms
    assert rig.player.played_ms("b") == 0.0  # held until its playout time: arrival + target
    rig.run(1)  # the block at +70 ms
    assert rig.player.played_ms("b") == 10.0
    assert rig.playback.underruns == 1  # a new item is not an underrun


def test_a_provider_ahead_of_real_time_plays_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = JitterRig(monkeypatch)
    for _ in range(5):  # 20 ms deltas, bunched: early enough to absorb the device's read-ahead
        rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    assert rig.playback.target_frames == 0
    rig.run(1)
    assert rig.player.played_ms("a") == 10.0


def test_paced_answers_buffer_their_jitter_from_the_next_answer_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = JitterRig(monkeypatch)
    t0 = rig.now.t
    for k, late in enumerate((0.0, 0.012, 0.030, 0.014)):  # real-time pacing, worst 30 ms late
        rig.now.t = t0 + k * 0.020 + late
        rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    held = CONFIG.ms_to_frames(30 + READ_AHEAD + MARGIN)
    assert rig.playback.target_frames == held
    rig.now.t += 2.0
    for _ in range(3):  # the next answer's first deltas come bunched: 60 ms at once
        rig.player.enqueue(dc(0.5, 20), RATE, "r2", "b", 0)
    assert rig.playback.target_frames == held  # remembered
    rig.run(1)
    assert rig.player.played_ms("b") == 0.0  # enough is queued, but its playout time is later


def test_the_learned_target_is_forgotten_after_clean_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = JitterRig(monkeypatch, dataclasses.replace(CONFIG, playback_jitter_memory=2))
    rig.player.enqueue(dc(0.5, 20), RATE, "r0", "a0", 0)
    rig.now.t += 0.080  # inside the priming: held until it is there
    rig.player.enqueue(dc(0.5, 20), RATE, "r0", "a0", 0)
    assert rig.playback.target_frames > 0
    for n in (1, 2, 3):  # clean answers, sent in bursts
        rig.now.t += 1.0
        for _ in range(3):
            rig.player.enqueue(dc(0.5, 20), RATE, f"r{n}", f"a{n}", 0)
        learned = 0 if n == 3 else CONFIG.ms_to_frames(80)
        assert rig.playback.target_frames == learned


def test_jitter_target_is_bounded_separately_from_the_queue_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = dataclasses.replace(CONFIG, playback_max_buffer_ms=60_000, playback_max_jitter_ms=60)
    rig = JitterRig(monkeypatch, config)
    rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    rig.now.t += 0.5  # far beyond the bound
    rig.player.enqueue(dc(0.5, 20), RATE, "r1", "a", 0)
    assert rig.playback.target_frames == config.ms_to_frames(60)


def test_prebuffer_delays_every_new_response(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = JitterRig(monkeypatch, dataclasses.replace(CONFIG, playback_prebuffer_ms=30))
    for n, rid in enumerate(("r1", "r2")):
        rig.player.enqueue(dc(0.5, 40), RATE, rid, f"item{n}", 0)  # a burst
        rig.run(3)
        assert rig.player.played_ms(f"item{n}") == 0.0  # held for 30 ms after it arrived
        rig.run(5)
        assert rig.player.played_ms(f"item{n}") == 40.0
        rig.now.t += 1.0
    assert rig.playback.underruns == 0


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
