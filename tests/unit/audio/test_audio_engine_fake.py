"""AudioEngine on FakeAudioBackend.

Blocks flow to the pipeline with monotonic times, events are published, the watchdog reopens
stalled/dead/unopenable streams with notices, the self-test finds the echo path.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import pytest

from app.audio.config import AudioConfig
from app.audio.engine import AudioEngine
from app.audio.fake_backend import FakeAudioBackend
from app.audio.telemetry import EngineState
from app.events import AudioChunk, NoticeCategory, NoticeLevel, PlaybackDrained, UserNotice

T = TypeVar("T")
CONFIG = AudioConfig(playback_capacity_s=4.0, startup_grace_s=1.0, output_on_demand=False)
RATE = CONFIG.device_rate
FRAMES = CONFIG.block_frames


class StandInPipeline:
    """Trivial local stand-in for CapturePipeline: one PCM16 chunk per block, device rate."""

    def __init__(self) -> None:
        self.blocks: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.speaking: list[bool] = []
        self.vad_probability = 0.25
        self.erle_db: float | None = 12.0
        self.samples = 0

    def process(self, mic: np.ndarray, far: np.ndarray, adc_time: float) -> list[object]:
        self.blocks.append((mic, far, adc_time))
        chunk = AudioChunk((mic * 32767).astype("<i2").tobytes(), RATE, self.samples, adc_time)
        self.samples += len(mic)
        return [chunk]

    def set_assistant_speaking(self, speaking: bool) -> None:
        self.speaking.append(speaking)


class Events:
    """Thread-safe event sink with waiting."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._cond = threading.Condition()

    def __call__(self, event: object) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[object]], bool], timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.items), timeout), self.items[-5:]

    def of(self, kind: type[T]) -> list[T]:
        with self._cond:
            return [e for e in self.items if isinstance(e, kind)]


def wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        done.wait(0.01)


Rig = tuple[AudioEngine, FakeAudioBackend, StandInPipeline, Events]


@pytest.fixture
def rig() -> Iterator[Rig]:
    mic = (0.3 * np.sin(2 * np.pi * 300 * np.arange(RATE * 20) / RATE)).astype(np.float32)
    backend = FakeAudioBackend(mic, paced=True, echo_gain=0.5, echo_delay_blocks=3)
    pipeline, events = StandInPipeline(), Events()
    engine = AudioEngine(CONFIG, pipeline, events, backend)
    engine.start()
    try:
        yield engine, backend, pipeline, events
    finally:
        engine.stop()


def test_mic_blocks_reach_the_pipeline_in_order_with_monotonic_times(rig: Rig) -> None:
    engine, backend, pipeline, events = rig
    events.wait_for(lambda items: len(items) >= 20)
    wait(lambda: engine.state is EngineState.RUNNING)
    mic = np.concatenate([b[0] for b in pipeline.blocks[:20]])
    np.testing.assert_array_equal(mic[: 2 * FRAMES], backend.mic[: 2 * FRAMES])  # no echo yet
    times = [b[2] for b in pipeline.blocks[:20]]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert abs(times[-1] - time.monotonic()) < 2.0
    chunks = events.of(AudioChunk)
    assert [c.first_sample for c in chunks[:3]] == [0, FRAMES, 2 * FRAMES]
    tel = engine.telemetry()
    assert tel.state is EngineState.RUNNING and tel.callbacks >= 20
    assert -14.0 < tel.input_rms_dbfs < -13.0  # 0.3 amplitude sine: -13.5 dBFS RMS
    assert tel.vad_probability == 0.25 and tel.echo_attenuation_db == 12.0
    assert 5.0 < tel.input_latency_ms < 40.0 and 10.0 < tel.output_latency_ms < 40.0


class FlakyPipeline(StandInPipeline):
    """Raises on one block, like a bug that only one input triggers."""

    def process(self, mic: np.ndarray, far: np.ndarray, adc_time: float) -> list[object]:
        if len(self.blocks) == 5 and not getattr(self, "failed", False):
            self.failed = True
            raise FloatingPointError("one bad block")
        return super().process(mic, far, adc_time)


def test_a_block_that_fails_anywhere_is_skipped_and_the_capture_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mic = (0.3 * np.sin(2 * np.pi * 300 * np.arange(RATE * 20) / RATE)).astype(np.float32)
    backend = FakeAudioBackend(mic, paced=True)
    pipeline, events = FlakyPipeline(), Events()
    engine = AudioEngine(CONFIG, pipeline, events, backend)
    observe, calls = engine._clock.observe, []

    def failing_once(now: float, current: float) -> None:  # a bug outside the DSP pipeline
        calls.append(now)
        if len(calls) == 10:
            raise ZeroDivisionError("clock bug")
        observe(now, current)

    engine._clock.observe = failing_once  # type: ignore[method-assign]
    engine.start()
    try:
        events.wait_for(lambda items: len(items) >= 30)
        assert engine.telemetry().pipeline_errors == 2
        assert "capture block failed (1 blocks skipped)" in caplog.text
    finally:
        engine.stop()


def test_playback_reaches_the_device_and_drained_is_published(rig: Rig) -> None:
    engine, backend, pipeline, events = rig
    pcm = (np.full(RATE // 10, 0.5, np.float32) * 32768).astype("<i2").tobytes()
    engine.player.enqueue(pcm, RATE, "r1", "item1", 0)
    events.wait_for(lambda items: any(isinstance(e, PlaybackDrained) for e in items))
    drained = events.of(PlaybackDrained)[0]
    assert drained.response_id == "r1"
    assert engine.player.played_ms("item1") == 100.0
    onset = engine.player.onset_at("item1")
    assert onset is not None and drained.at - onset == pytest.approx(0.1, abs=0.002)
    wait(lambda: pipeline.speaking[-1:] == [False])
    assert pipeline.speaking[:1] == [True]
    far = np.concatenate([b[1] for b in pipeline.blocks])
    assert int(np.count_nonzero(far == 0.5)) == RATE // 10  # far = exactly what was played


def test_stall_is_detected_and_the_stream_reopened_with_notices(rig: Rig) -> None:
    engine, backend, pipeline, events = rig
    wait(lambda: engine.state is EngineState.RUNNING)
    backend.stall()
    stalled_at = time.monotonic()
    events.wait_for(lambda items: len([e for e in items if isinstance(e, UserNotice)]) >= 2)
    recovered_in = time.monotonic() - stalled_at
    notices = events.of(UserNotice)
    assert notices[0].level is NoticeLevel.WARNING
    assert notices[0].category is NoticeCategory.AUDIO_DEVICE
    assert "no audio" in notices[0].text
    assert notices[1].level is NoticeLevel.INFO
    assert backend.opens == 2 and engine.telemetry().restarts == 1
    assert recovered_in < 2.0 + 1.0  # requirement 2 s; loose margin for a loaded machine
    before = len(pipeline.blocks)
    wait(lambda: len(pipeline.blocks) > before + 10)


def test_dead_stream_and_failed_reopens_are_retried() -> None:
    backend = FakeAudioBackend(paced=True)
    events = Events()
    engine = AudioEngine(CONFIG, StandInPipeline(), events, backend)
    engine.start()
    try:
        wait(lambda: engine.state is EngineState.RUNNING)
        backend.fail_opens = 2
        backend.kill()
        # Any INFO notice, not the last item: the reopened stream's chunks follow it at once,
        # and a waiter woken late would never see it last.
        events.wait_for(lambda items: any(isinstance(e, UserNotice) and e.level is NoticeLevel.INFO
                                          for e in items))  # fmt: skip
        assert backend.opens == 4  # first + two failures + success
        assert engine.state is EngineState.RUNNING
        assert "stopped" in events.of(UserNotice)[0].text
    finally:
        engine.stop()
    assert engine.state is EngineState.STOPPED


def test_unopenable_device_at_start_is_a_notice_not_a_crash() -> None:
    backend = FakeAudioBackend(paced=True)
    backend.fail_opens = 1
    events = Events()
    engine = AudioEngine(CONFIG, StandInPipeline(), events, backend)
    engine.start()
    try:
        assert isinstance(events.of(UserNotice)[0], UserNotice)
        wait(lambda: engine.state is EngineState.RUNNING)
    finally:
        engine.stop()


def test_self_test_finds_the_fake_echo_path(rig: Rig) -> None:
    engine, backend, pipeline, events = rig
    backend.mic = np.zeros(0, np.float32)  # only the echo reaches the mic
    result = engine.self_test(seconds=0.5)
    assert result.output_ok and result.input_ok
    assert result.echo_delay_ms == pytest.approx(30.0, abs=0.5)  # 3 blocks of 10 ms
    assert result.echo_attenuation_db == pytest.approx(6.0, abs=0.5)  # echo gain 0.5
    assert "echo" in result.message


def test_self_test_with_the_on_demand_output_aligns_by_dac_time() -> None:
    config = dataclasses.replace(CONFIG, output_on_demand=True)
    backend = FakeAudioBackend(paced=True, echo_gain=0.5, echo_delay_blocks=3)
    engine = AudioEngine(config, StandInPipeline(), Events(), backend)
    engine.start()
    try:
        wait(lambda: engine.state is EngineState.RUNNING)
        result = engine.self_test(seconds=0.5)
    finally:
        engine.stop()
    # The reference is aligned by DAC time: the delay found is the acoustic one (the fake's
    # echo lands 3 blocks after the write = 30 ms, minus its 20 ms output latency and the 10 ms
    # block the capture clock dates back) plus the fixed lead.
    assert result.echo_delay_ms == pytest.approx(config.far_lead_ms, abs=1.0)
    assert result.echo_attenuation_db == pytest.approx(6.0, abs=0.5)


def test_use_devices_reopens_split_streams_and_reports_a_missing_device() -> None:
    backend = FakeAudioBackend(paced=True, devices=("default", "USB Headset"))
    events, pipeline = Events(), StandInPipeline()
    engine = AudioEngine(CONFIG, pipeline, events, backend)
    engine.start()
    try:
        wait(lambda: engine.state is EngineState.RUNNING)
        assert events.of(UserNotice) == []
        engine.use_devices("USB Headset", "Bluetooth Speaker")
        wait(lambda: backend.opens == 2 and engine.state is EngineState.RUNNING)
        tel = engine.telemetry()
        assert (tel.input_device, tel.output_device) == ("USB Headset", "default")
        notice = events.of(UserNotice)[0]
        assert notice.level is NoticeLevel.WARNING and "not connected" in notice.text
        before = len(pipeline.blocks)
        wait(lambda: len(pipeline.blocks) > before + 5)  # two streams deliver paired blocks
        engine.restart_stream()
        wait(lambda: backend.opens == 3 and engine.state is EngineState.RUNNING)
        assert len(events.of(UserNotice)) == 1  # a requested restart is not news
    finally:
        engine.stop()


def test_a_device_that_keeps_failing_is_logged_once_not_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = FakeAudioBackend(paced=True)
    backend.fail_opens = 6
    engine = AudioEngine(CONFIG, StandInPipeline(), Events(), backend)
    with caplog.at_level(logging.DEBUG, logger="app.audio"):
        engine.start()
        try:
            wait(lambda: engine.state is EngineState.RUNNING)
        finally:
            engine.stop()
    failures = [r for r in caplog.records if "opening the audio stream failed" in r.getMessage()]
    assert len(failures) == 6
    assert [r.levelno for r in failures].count(logging.WARNING) == 1
