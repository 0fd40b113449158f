"""On-demand output: started by queued audio, aborted by flush and idleness; exact far end.

Drives the real ``AudioEngine`` (output lane, player, callback, far-end timeline) on the
``FakeAudioBackend`` block by block, so every decision is observable without timing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from app.audio import callback as callback_module
from app.audio import output_lane as output_lane_module
from app.audio.config import AudioConfig
from app.audio.engine import AudioEngine
from app.audio.fake_backend import FakeAudioBackend
from app.audio.output_lane import PRIME_SETTLE_S, PRIME_WAIT_MAX_S, OutputLane

CONFIG = AudioConfig(
    playback_capacity_s=4.0, startup_grace_s=1.0, output_idle_s=0.05, output_on_demand=True
)
RATE = CONFIG.device_rate
FRAMES = CONFIG.block_frames


class FarRecorder:
    """Pipeline stand-in keeping the far-end reference it is handed."""

    def __init__(self) -> None:
        self.far: list[np.ndarray] = []
        self._lock = threading.Lock()

    def process(self, mic: np.ndarray, far: np.ndarray, adc_time: float) -> list[object]:
        with self._lock:
            self.far.append(far)
        return []

    def set_assistant_speaking(self, speaking: bool) -> None:
        pass

    def far_audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.far) if self.far else np.zeros(0, np.float32)


def wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        pause.wait(0.005)


def pcm_dc(value: float, ms: float) -> bytes:
    n = int(RATE * ms / 1000)
    return (np.full(n, value, np.float32) * 32768).astype("<i2").tobytes()


Rig = tuple[AudioEngine, FakeAudioBackend, FarRecorder]


@pytest.fixture
def rig() -> Iterator[Rig]:
    backend = FakeAudioBackend(paced=True, record_blocks=6000)
    pipeline = FarRecorder()
    engine = AudioEngine(CONFIG, pipeline, lambda _e: None, backend)
    engine.start()
    try:
        wait(lambda: backend.blocks > 3)
        yield engine, backend, pipeline
    finally:
        engine.stop()


def test_output_starts_for_queued_audio_and_stops_when_idle(rig: Rig) -> None:
    engine, backend, _ = rig
    assert not backend.output_running()  # nothing queued: the output is stopped
    engine.player.enqueue(pcm_dc(0.5, 100), RATE, "r1", "a", 0)
    wait(lambda: backend.output_starts == 1)
    wait(lambda: engine.player.played_ms("a") == 100.0)
    wait(lambda: backend.output_aborts == 1)  # idle for output_idle_s after the last sample
    assert not backend.output_running()
    played = backend.played[: backend.blocks * FRAMES]
    assert int(np.count_nonzero(played == 0.5)) == RATE // 10  # every sample, once


def test_flush_aborts_the_output_and_nothing_old_plays_after_it(rig: Rig) -> None:
    engine, backend, _ = rig
    engine.player.enqueue(pcm_dc(0.5, 2000), RATE, "r1", "a", 0)
    wait(lambda: engine.player.played_ms("a") > 200)
    engine.player.flush()
    wait(lambda: not backend.output_running())
    assert backend.output_aborts == 1
    state = engine.playback.state
    wait(lambda: state.seen_epoch == state.flush_epoch)  # honoured while stopped
    assert engine.playback.queued_ms() == 0.0
    assert not engine.playback.has_pending()
    blocks_at_abort = backend.blocks
    engine.player.enqueue(pcm_dc(0.25, 50), RATE, "r2", "b", 0)  # the next answer
    wait(lambda: engine.player.played_ms("b") == 50.0)
    assert backend.output_starts == 2
    after = backend.played[blocks_at_abort * FRAMES : backend.blocks * FRAMES]
    assert not np.any(after == 0.5)  # the flushed answer never resumes
    assert int(np.count_nonzero(after == 0.25)) == RATE // 20


def test_flush_subtracts_what_the_device_buffer_never_played(rig: Rig) -> None:
    engine, backend, _ = rig
    engine.player.enqueue(pcm_dc(0.5, 2000), RATE, "r1", "a", 0)
    wait(lambda: engine.player.played_ms("a") > 300)
    written_before = engine.player.played_ms("a")
    flushed_at = time.monotonic()
    engine.player.flush()
    heard = engine.player.played_ms("a")
    # The fake's device holds its 20 ms latency plus the block being played: written, but cut
    # by the abort (a little slack for the paced fake's clock).
    assert written_before - 35.0 <= heard <= written_before
    last = engine.player.last_sample_at()
    assert last is not None and last <= flushed_at + 0.001  # silence at the abort, not later


def test_far_reference_is_exactly_what_played_across_restarts(rig: Rig) -> None:
    engine, backend, pipeline = rig
    for n in range(3):  # three answers, each on a fresh output run
        engine.player.enqueue(pcm_dc(0.5, 60), RATE, f"r{n}", f"i{n}", 0)
        wait(lambda n=n: engine.player.played_ms(f"i{n}") == 60.0)
        wait(lambda n=n: backend.output_aborts == n + 1)
    wait(lambda: len(pipeline.far) > backend.blocks - 3)
    far = pipeline.far_audio()
    assert int(np.count_nonzero(far == 0.5)) == 3 * RATE * 60 // 1000
    assert not np.any((far != 0.0) & (far != 0.5))


def test_far_reference_drops_what_an_abort_cut_off(rig: Rig) -> None:
    engine, backend, pipeline = rig
    engine.player.enqueue(pcm_dc(0.5, 2000), RATE, "r1", "a", 0)
    wait(lambda: engine.player.played_ms("a") > 300)
    engine.player.flush()
    wait(lambda: not backend.output_running())
    heard = engine.player.played_ms("a")
    stopped = backend.blocks
    wait(lambda: backend.blocks > stopped + 20 and len(pipeline.far) > stopped + 10)
    far = pipeline.far_audio()
    in_reference = int(np.count_nonzero(far == 0.5)) * 1000.0 / RATE
    # Written into the device but cut by the abort: not in the reference either (±1 block of
    # timing between the fake's clock and the abort).
    assert in_reference == pytest.approx(heard, abs=12.0)


@contextlib.contextmanager
def stepped_lane(
    config: AudioConfig = CONFIG, on_cut: Callable[[int, float], None] | None = None
) -> Iterator[tuple[AudioEngine, FakeAudioBackend, OutputLane]]:
    """The engine's stream, player and a lane stepped by the test (no engine threads)."""
    backend = FakeAudioBackend()
    engine = AudioEngine(config, FarRecorder(), lambda _e: None, backend)
    lane = OutputLane(config, backend, engine.playback, on_cut or (lambda run, at: None))
    engine._watchdog.open_first()
    try:
        yield engine, backend, lane
    finally:
        engine._watchdog.stop()


def test_lane_step_decisions_without_threads() -> None:
    cuts: list[tuple[int, float]] = []
    with stepped_lane(on_cut=lambda run, at: cuts.append((run, at))) as (engine, backend, lane):
        lane.step(time.monotonic())
        assert backend.output_starts == 0
        engine.player.enqueue(pcm_dc(0.5, 30), RATE, "r1", "a", 0)
        lane.step(time.monotonic())
        assert backend.output_running() and backend.output_starts == 1
        backend.step(5)  # plays the 30 ms, then silence
        now = time.monotonic()
        lane.step(now + 1.0)  # idle: remember when
        assert backend.output_running()
        # a hair past the idle time: (t + 1.3) - (t + 1.0) may round below 0.3 in floats
        lane.step(now + 1.0 + CONFIG.output_idle_s + 1e-3)
        assert not backend.output_running()
        assert [run for run, _ in cuts] == [1]


def test_the_lane_times_each_start_it_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    with stepped_lane() as (engine, backend, lane):
        assert lane.started_at is None
        clock = [100.0]  # the lane's monotonic clock, advanced only by the start call
        monkeypatch.setattr(output_lane_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
        real_start = backend.start_output

        def slow_start() -> bool:  # a stream start that primes for 20 ms
            clock[0] += 0.02
            return real_start()

        monkeypatch.setattr(backend, "start_output", slow_start)
        engine.player.enqueue(pcm_dc(0.5, 30), RATE, "r1", "a", 0)
        lane.step(time.monotonic())
        assert backend.output_running()
        assert lane.started_at == 100.0  # asked before the call, not when it returned
        assert lane.start_s == pytest.approx(0.02)
        first = lane.started_at
        engine.player.flush()
        lane.step(time.monotonic())  # aborted
        monkeypatch.setattr(backend, "start_output", lambda: False)  # the device refuses
        engine.player.enqueue(pcm_dc(0.5, 30), RATE, "r2", "b", 0)
        lane.step(time.monotonic())
        assert lane.started_at == first  # only a start that happened is timed


def test_telemetry_reports_when_the_output_last_started(rig: Rig) -> None:
    engine, backend, _ = rig
    assert engine.telemetry().output_started_at is None
    before = time.monotonic()
    engine.player.enqueue(pcm_dc(0.5, 50), RATE, "r1", "a", 0)
    wait(lambda: backend.output_starts == 1)
    wait(lambda: engine.telemetry().output_started_at is not None)
    tel = engine.telemetry()
    assert tel.output_started_at is not None and before <= tel.output_started_at <= time.monotonic()
    assert 0.0 <= tel.output_start_ms < 1000.0


def test_a_jitter_target_is_waited_for_before_the_output_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = dataclasses.replace(CONFIG, playback_prebuffer_ms=60)  # the target's floor
    with stepped_lane(config) as (engine, backend, lane):
        now = time.monotonic()
        engine.player.enqueue(pcm_dc(0.5, 100), RATE, "r1", "a", 0)  # plenty, in one burst
        lane.step(now)
        assert not backend.output_running()  # held: its playout time is 60 ms after arrival
        lane.step(now + 0.030)
        assert not backend.output_running()
        lane.step(now + 0.061)
        assert backend.output_running()  # start at the playout time, audio first
        monkeypatch.setattr(callback_module, "monotonic", lambda: now + 0.062)
        backend.step(1)
        assert engine.player.played_ms("a") == 10.0  # no buffering silence ahead of it
        engine.player.flush()  # barge-in: aborted, the rest of "a" dropped
        lane.step(now + 0.070)
        assert not backend.output_running() and not engine.playback.has_pending()


def test_a_start_below_the_priming_depth_waits_for_more_while_the_answer_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = dataclasses.replace(CONFIG, latency_s=0.02)  # primes 20 ms + one 10 ms block
    with stepped_lane(config) as (engine, backend, lane):
        now = time.monotonic()
        # Deltas arrive and blocks play at the times the test says, not at the wall clock's:
        # a slow first call (imports, a loaded machine) would otherwise read as send jitter
        # and hold the second answer back.
        clock = [now]
        engine.player._arrival_clock = lambda: clock[0]
        monkeypatch.setattr(callback_module, "monotonic", lambda: clock[0])
        engine.player.enqueue(pcm_dc(0.5, 20), RATE, "r1", "a", 0)  # a fast provider's 1st delta
        lane.step(now)
        assert not backend.output_running()  # the primed start would find its 3rd block empty
        clock[0] = now + 0.0004
        engine.player.enqueue(pcm_dc(0.5, 20), RATE, "r1", "a", 0)  # the 2nd, 0.4 ms later
        lane.step(now + 0.0004)
        assert backend.output_running()  # the device buffer fills with audio: start
        backend.step(4)
        assert engine.player.played_ms("a") == 40.0
        assert engine.playback.state.underruns == 0
        engine.player.flush()
        clock[0] = now + 0.001
        lane.step(now + 0.001)
        assert not backend.output_running()
        clock[0] = now + 0.002
        engine.player.enqueue(pcm_dc(0.5, 20), RATE, "r2", "b", 0)  # a real-time provider
        lane.step(now + 0.002)
        lane.step(now + 0.002 + 2 * PRIME_SETTLE_S)
        assert not backend.output_running()  # still streaming: the next delta is due in 20 ms
        clock[0] = now + 0.022
        engine.player.enqueue(pcm_dc(0.5, 20), RATE, "r2", "b", 0)
        lane.step(now + 0.022)
        assert backend.output_running()  # primed with audio, not with silence
        backend.step(4)
        assert engine.player.played_ms("b") == 40.0
        assert engine.playback.state.underruns == 0


def test_a_complete_short_answer_or_a_silent_provider_is_not_held_long() -> None:
    config = dataclasses.replace(CONFIG, latency_s=0.02)
    with stepped_lane(config) as (engine, backend, lane):
        now = time.monotonic()
        engine.player.enqueue(pcm_dc(0.5, 15), RATE, "r1", "a", 0)
        engine.player.end_response("r1")  # that was all of it
        lane.step(now)
        assert not backend.output_running()
        # A hair past the settle time: (t + 0.001) - t rounds below 0.001 for some clock
        # magnitudes (deterministic per binade of the monotonic clock, i.e. machine uptime).
        lane.step(now + PRIME_SETTLE_S + 1e-4)  # the queue stopped growing: start
        assert backend.output_running()
        engine.player.flush()
        lane.step(now + 0.002)
        engine.player.enqueue(pcm_dc(0.5, 15), RATE, "r2", "b", 0)  # and then nothing comes
        lane.step(now + 0.003)
        assert not backend.output_running()
        lane.step(now + 0.003 + PRIME_WAIT_MAX_S + 1e-3)  # the wait is capped
        assert backend.output_running()


def test_the_priming_depth_follows_the_latency_the_stream_reports() -> None:
    with stepped_lane() as (engine, backend, lane):  # 10 ms asked for, 20 ms reported
        now = time.monotonic()
        engine.player.enqueue(pcm_dc(0.5, 20), RATE, "r1", "a", 0)
        lane.step(now)
        assert not backend.output_running()  # 20 ms reported + a 10 ms block: wait for more
        engine.player.enqueue(pcm_dc(0.5, 10), RATE, "r1", "a", 0)
        lane.step(now + 0.0005)
        assert backend.output_running()
