"""The PulseAudio rig, for real: virtual mic, speaker ear timing, echo path, crash and restart."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.harness.procs import HarnessError, session_members, wait_until
from app.harness.pulse import PulseRig
from app.harness.signals import chirp, first_above, normalized_xcorr, rms, tone
from app.harness.wavio import read_wav, write_wav

pytestmark = pytest.mark.slow

RATE = 48000
BLOCK = 480  # 10 ms at 48 kHz
LATENCY = 0.02  # explicit: 'low' is erratic on the ALSA-pulse path


class _Capture:
    """Input callback that copies blocks into a preallocated buffer."""

    def __init__(self, seconds: float) -> None:
        self.buf = np.zeros(round(seconds * RATE), dtype=np.float32)
        self.pos = 0
        self.calls = 0

    def __call__(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        n = min(frames, len(self.buf) - self.pos)
        self.buf[self.pos : self.pos + n] = indata[:n, 0]
        self.pos += n
        self.calls += 1


def test_virtual_mic_is_bit_exact_through_sounddevice(pulse_rig: PulseRig, tmp_path: Path) -> None:
    import sounddevice as sd

    names = [d["name"] for d in sd.query_devices()]
    assert "pulse" in names, names
    signal = chirp(200.0, 6000.0, 1.0, RATE, amplitude=0.4)
    wav = write_wav(tmp_path / "chirp.wav", signal, RATE)
    reference, _ = read_wav(wav)  # exactly what the file holds, int16 / 32768

    cap = _Capture(seconds=8.0)
    with sd.InputStream(
        samplerate=RATE, channels=1, dtype="float32", blocksize=BLOCK, latency=LATENCY, callback=cap
    ):
        # The null sink can stall ~2 s before the first callbacks: wait for them.
        wait_until(lambda: cap.calls >= 10, timeout=10.0, what="input callbacks")
        pulse_rig.play_into_mic(wav)
        end = cap.pos + RATE // 2
        wait_until(lambda: cap.pos >= end, timeout=10.0, what="the tail of the recording")
    recorded = cap.buf[: cap.pos]

    corr, lag = normalized_xcorr(reference, recorded)
    assert corr > 0.99, corr
    assert 0 <= lag <= len(recorded) - len(reference)
    segment = recorded[lag : lag + len(reference)]
    assert np.array_equal(segment, reference), np.max(np.abs(segment - reference))


class _Clicker:
    """Output callback: silence, then one full-scale 10 ms block when armed."""

    def __init__(self) -> None:
        self.calls = 0
        self.armed = threading.Event()

    def __call__(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.calls += 1
        if self.armed.is_set():
            outdata.fill(0.8)
            self.armed.clear()
        else:
            outdata.fill(0.0)


def test_tone_from_sounddevice_reaches_speaker_monitor_with_consistent_timestamps(
    pulse_rig: PulseRig,
) -> None:
    import sounddevice as sd

    clicker = _Clicker()
    ear = pulse_rig.record_monitor("speaker.monitor")
    requested: list[float] = []
    try:
        ear.wait_started(timeout=10.0)
        with sd.OutputStream(
            samplerate=RATE,
            channels=1,
            dtype="float32",
            blocksize=BLOCK,
            latency=LATENCY,
            callback=clicker,
        ):
            wait_until(lambda: clicker.calls >= 20, timeout=10.0, what="output callbacks")
            for _ in range(3):
                # Space the clicks so each is found alone in its own window.
                target = ear.samples_recorded() + RATE // 4
                ear.wait_samples(target, timeout=5.0)
                requested.append(time.monotonic())
                clicker.armed.set()
            ear.wait_samples(ear.samples_recorded() + RATE // 4, timeout=5.0)
        samples, rate, t0 = ear.stop()
    finally:
        ear.close()

    assert rate == RATE
    round_trips = []
    for t_req in requested:
        start = max(0, round((t_req - t0) * rate))
        hit = first_above(samples, 0.4, start)
        assert hit is not None, "click never reached speaker.monitor"
        round_trips.append(t0 + hit / rate - t_req)
    # Causal (the ear never dates a sample before it was written) and well inside 150 ms.
    assert all(0.0 < rt < 0.150 for rt in round_trips), round_trips


def test_echo_loopback_carries_speaker_into_mic(pulse_rig: PulseRig, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "tone.wav", tone(440.0, 0.6, RATE, amplitude=0.5), RATE)

    def mic_level_while_playing(gain: float | None) -> float:
        idx = pulse_rig.load_echo_loopback(latency_ms=20, gain=gain) if gain is not None else None
        ear = pulse_rig.record_monitor("mic")
        try:
            ear.wait_started(timeout=10.0)
            pulse_rig.play(wav, sink="speaker")
            ear.wait_samples(ear.samples_recorded() + RATE // 5, timeout=5.0)
            samples, _, _ = ear.stop()
        finally:
            ear.close()
            if idx is not None:
                pulse_rig.unload_module(idx)
        return float(np.max(np.abs(samples))) if samples.size else 0.0

    full = mic_level_while_playing(1.0)
    half = mic_level_while_playing(0.5)
    none = mic_level_while_playing(None)
    assert full > 0.3, full
    assert 0.3 < half / full < 0.7, (half, full)
    assert none < 1e-3, none
    assert "module-loopback" not in pulse_rig.pactl("list", "short", "modules")


def test_ear_sees_what_paplay_puts_into_the_mic(pulse_rig: PulseRig, tmp_path: Path) -> None:
    signal = tone(1000.0, 0.5, RATE, amplitude=0.5)
    wav = write_wav(tmp_path / "beep.wav", signal, RATE)
    ear = pulse_rig.record_monitor("mic")
    try:
        ear.wait_started(timeout=10.0)
        pulse_rig.play_into_mic(wav)
        ear.wait_samples(ear.samples_recorded() + RATE // 10, timeout=5.0)
        samples, _, _ = ear.stop()
    finally:
        ear.close()
    corr, _ = normalized_xcorr(read_wav(wav)[0], samples)
    assert corr > 0.99, corr
    assert rms(samples) > 0.05


def test_kill_restart_and_teardown_leave_nothing_behind(tmp_path: Path) -> None:
    rig = PulseRig.start(tmp_path / "rig")
    pids: list[int] = []
    try:
        first = rig.pid
        pids.append(first)
        ear = rig.record_monitor("speaker.monitor")
        ear.wait_started(timeout=10.0)
        pids.append(ear.pid)

        rig.kill()
        assert not rig.running()
        with pytest.raises(HarnessError):
            rig.pactl("info", timeout=3.0)
        ear.close()  # the ear's parec exits or is stopped once its server died

        rig.restart()
        assert rig.running() and rig.pid != first
        pids.append(rig.pid)
        assert rig.socket.exists()
        sinks = rig.pactl("list", "short", "sinks")
        assert "speaker" in sinks and "micfeed" in sinks
        assert "mic" in rig.pactl("get-default-source")
        fresh = rig.record_monitor("mic")
        fresh.wait_started(timeout=10.0)
        pids.append(fresh.pid)
        rig.play_into_mic(write_wav(tmp_path / "t.wav", tone(500.0, 0.2, RATE), RATE), wait=False)
    finally:
        rig.stop()
    for pid in pids:
        assert session_members(pid) == [], pid
        assert not Path(f"/proc/{pid}").exists(), pid


def test_streams_reopen_after_the_server_is_killed_and_restarted(
    isolated_pulse_rig: PulseRig,
) -> None:
    import sounddevice as sd

    rig = isolated_pulse_rig
    assert os.environ["PULSE_SERVER"] == rig.env["PULSE_SERVER"]

    def callbacks_flow() -> None:
        cap = _Capture(seconds=2.0)
        with sd.InputStream(
            samplerate=RATE, channels=1, blocksize=BLOCK, latency=LATENCY, callback=cap
        ):
            wait_until(lambda: cap.calls >= 10, timeout=10.0, what="input callbacks")

    callbacks_flow()
    rig.kill()
    rig.restart()
    callbacks_flow()  # no PortAudio re-initialisation needed after a restart
