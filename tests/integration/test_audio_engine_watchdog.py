"""The watchdog recovers the engine when the PulseAudio server is killed and restarted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from app.audio.config import AudioConfig
from app.audio.engine import AudioEngine
from app.audio.telemetry import EngineState
from app.events import NoticeCategory, NoticeLevel, UserNotice
from app.harness.procs import wait_until
from app.harness.pulse import PulseRig
from app.harness.wavio import write_wav

pytestmark = pytest.mark.slow


class MicLevels:
    """Stand-in pipeline keeping each block's peak (enough to see the mic is alive)."""

    def __init__(self) -> None:
        self.peaks: list[float] = []

    def process(self, mic: np.ndarray, far: np.ndarray, adc_time: float) -> list[object]:
        self.peaks.append(float(np.max(np.abs(mic))))
        return []

    def set_assistant_speaking(self, speaking: bool) -> None:
        pass


def notices(events: list[object], level: NoticeLevel) -> list[UserNotice]:
    return [e for e in list(events) if isinstance(e, UserNotice) and e.level is level]


def test_watchdog_reopens_after_the_sound_server_restarts(
    isolated_pulse_rig: PulseRig, tmp_path: Path
) -> None:
    rig = isolated_pulse_rig
    levels, events = MicLevels(), []
    engine = AudioEngine(AudioConfig(), levels, events.append)
    engine.start()
    try:
        wait_until(lambda: engine.state is EngineState.RUNNING, timeout=10.0, what="running")
        rig.kill()
        killed_at = time.monotonic()
        warning = wait_until(
            lambda: notices(events, NoticeLevel.WARNING), timeout=5.0, what="a warning notice"
        )[0]
        detected_in = time.monotonic() - killed_at
        assert warning.category is NoticeCategory.AUDIO_DEVICE
        rig.restart()
        restarted_at = time.monotonic()
        wait_until(lambda: notices(events, NoticeLevel.INFO), timeout=10.0, what="recovery")
        recovered_in = time.monotonic() - restarted_at
        assert detected_in < 2.0
        assert recovered_in < 5.0  # requirement: 2 s; loose bound for a shared, loaded machine
        blocks = len(levels.peaks)
        wav = write_wav(tmp_path / "beep.wav", np.full(9600, 0.5, np.float32), 48_000)
        rig.play_into_mic(wav)
        wait_until(
            lambda: max(levels.peaks[blocks:], default=0.0) > 0.4,
            timeout=5.0,
            what="the microphone to work after recovery",
        )
        assert engine.telemetry().restarts >= 1
        assert engine.state is EngineState.RUNNING
    finally:
        engine.stop()


def test_watchdog_detects_a_stalled_server_and_recovers(isolated_pulse_rig: PulseRig) -> None:
    rig = isolated_pulse_rig
    levels, events = MicLevels(), []
    engine = AudioEngine(AudioConfig(), levels, events.append)
    engine.start()
    try:
        wait_until(lambda: engine.state is EngineState.RUNNING, timeout=10.0, what="running")
        os.kill(rig.pid, signal.SIGSTOP)  # the server freezes: callbacks stop, nothing errors
        stalled_at = time.monotonic()
        try:
            warning = wait_until(
                lambda: notices(events, NoticeLevel.WARNING), timeout=5.0, what="a stall notice"
            )[0]
            detected_in = time.monotonic() - stalled_at
        finally:
            os.kill(rig.pid, signal.SIGCONT)
        assert "no audio" in warning.text
        assert detected_in < 2.0  # stall timeout 0.5 s plus the watchdog period
        wait_until(lambda: notices(events, NoticeLevel.INFO), timeout=10.0, what="recovery")
        blocks = len(levels.peaks)
        wait_until(lambda: len(levels.peaks) > blocks + 20, timeout=5.0, what="blocks again")
        assert engine.state is EngineState.RUNNING
    finally:
        engine.stop()
