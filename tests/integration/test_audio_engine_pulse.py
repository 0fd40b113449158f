"""The audio engine through a real PulseAudio rig (virtual mic and speaker).

Proves: the mic path is bit-exact, playback lands on the speaker with matching played_ms and
onset times, flush() silences the speaker quickly, duck/resume change the level, two streams
work, and the self-test finds the loopback echo path.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from app.audio import devices_cli
from app.audio.config import AudioConfig
from app.audio.devices import list_devices
from app.audio.engine import AudioEngine
from app.audio.telemetry import EngineState
from app.events import PlaybackDrained
from app.harness.procs import wait_until
from app.harness.pulse import PulseRig
from app.harness.recorder import Recorder
from app.harness.wavio import write_wav

pytestmark = pytest.mark.slow

SILENCE = 1e-3


class RecordingPipeline:
    """Identity stand-in for the DSP pipeline: keeps every mic/far block (no events)."""

    def __init__(self) -> None:
        self.mic: list[np.ndarray] = []
        self.far: list[np.ndarray] = []
        self.times: list[float] = []
        self._lock = threading.Lock()

    def process(self, mic: np.ndarray, far: np.ndarray, adc_time: float) -> list[object]:
        with self._lock:
            self.mic.append(mic)
            self.far.append(far)
            self.times.append(adc_time)
        return []

    def set_assistant_speaking(self, speaking: bool) -> None:
        pass

    def blocks(self) -> int:
        with self._lock:
            return len(self.mic)

    def mic_since(self, start: int) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.mic[start:])

    def far_since(self, start: int) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.far[start:])


class Engine:
    """An engine on the rig with its pipeline and collected events."""

    def __init__(self, config: AudioConfig) -> None:
        self.pipeline = RecordingPipeline()
        self.events: list[object] = []
        self.engine = AudioEngine(config, self.pipeline, self.events.append)

    def drained(self) -> list[PlaybackDrained]:
        return [e for e in list(self.events) if isinstance(e, PlaybackDrained)]


def start_engine(config: AudioConfig) -> Engine:
    eng = Engine(config)
    eng.engine.start()
    wait_until(
        lambda: eng.engine.state is EngineState.RUNNING and eng.pipeline.blocks() > 20,
        timeout=10.0,
        what="the engine to run on the PulseAudio rig",
    )
    return eng


@pytest.fixture
def eng(pulse_rig: PulseRig) -> Iterator[Engine]:
    engine = start_engine(AudioConfig())
    try:
        yield engine
    finally:
        engine.engine.player.flush()
        engine.engine.stop()


def tone_pcm(seconds: float, rate: int = 24_000, hz: float = 440.0, amp: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes()


def enqueue_tone(engine: AudioEngine, seconds: float, item: str) -> None:
    pcm = tone_pcm(seconds)
    step = 4800  # 100 ms deltas at 24 kHz, bytes = 2 per sample
    for start in range(0, len(pcm), step):
        engine.player.enqueue(pcm[start : start + step], 24_000, "resp-" + item, item, 0)
    engine.playback.end_response("resp-" + item)


def record_until(rec: Recorder, t: float) -> None:
    wait_until(
        lambda: rec.t0() + len(rec.snapshot()) / rec.rate > t,
        timeout=10.0,
        what="the speaker monitor to record long enough",
    )


def applied(done: Callable[[], bool]) -> float:
    """Monotonic time at which the callback was seen to apply a change (polled finely)."""
    return float(
        wait_until(
            lambda: done() and time.monotonic(), timeout=5.0, interval=0.001, what="the callback"
        )
    )


def rms_db(x: np.ndarray) -> float:
    return 20 * float(np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def level_db(x: np.ndarray, frame: int = 960) -> float:
    """Median level of the 20 ms frames that carry sound (a loaded machine may insert gaps)."""
    frames = x[: len(x) // frame * frame].reshape(-1, frame)
    levels = [level for level in (rms_db(f) for f in frames) if level > -60.0]
    assert len(levels) >= 3, "the tone was not heard in this window"
    return float(np.median(levels))


def window(samples: np.ndarray, rate: int, t0: float, start: float, end: float) -> np.ndarray:
    return samples[int((start - t0) * rate) : int((end - t0) * rate)]


def test_mic_path_is_bit_exact(eng: Engine, pulse_rig: PulseRig, tmp_path: Path) -> None:
    noise = np.random.default_rng(7).integers(-12_000, 12_000, 48_000 // 2).astype(np.int16)
    wav = write_wav(tmp_path / "noise.wav", noise, 48_000)
    first = eng.pipeline.blocks()
    pulse_rig.play_into_mic(wav)

    def whole_file_captured() -> bool:
        loud = np.flatnonzero(eng.pipeline.mic_since(first))  # the rig's mic is digital silence
        return len(loud) > 0 and eng.pipeline.blocks() - first > loud[0] // 480 + 52

    wait_until(whole_file_captured, timeout=10.0, what="the whole wav through the engine")
    captured = np.round(eng.pipeline.mic_since(first) * 32768.0).astype(np.int64)
    lag = int(np.argmax(np.abs(np.correlate(captured[:48_000], noise[:4800].astype(np.int64)))))
    np.testing.assert_array_equal(captured[lag : lag + len(noise)], noise)


def test_mic_blocks_carry_their_capture_time(
    eng: Engine, pulse_rig: PulseRig, tmp_path: Path
) -> None:
    beep = np.concatenate([np.zeros(4800), np.full(2400, 0.5)]).astype(np.float32)
    wav = write_wav(tmp_path / "beep.wav", beep, 48_000)
    ear = pulse_rig.record_monitor("micfeed.monitor")
    record_until(ear, time.monotonic() + 0.05)
    first = eng.pipeline.blocks()
    pulse_rig.play_into_mic(wav)
    wait_until(
        lambda: np.max(np.abs(eng.pipeline.mic_since(first))) > 0.4, timeout=5.0, what="the beep"
    )
    samples, rate, t0 = ear.stop()
    heard_at = t0 + np.flatnonzero(np.abs(samples) > 0.4)[0] / rate
    mic = eng.pipeline.mic_since(first)
    index = int(np.flatnonzero(np.abs(mic) > 0.4)[0])
    with eng.pipeline._lock:
        block_time = eng.pipeline.times[first + index // 480]
    captured_at = block_time + (index % 480) / 48_000
    assert captured_at == pytest.approx(heard_at, abs=0.015)  # the ear is good to about ±10 ms


def test_played_ms_and_onset_match_the_speaker_monitor(eng: Engine, pulse_rig: PulseRig) -> None:
    rec = pulse_rig.record_monitor()
    record_until(rec, time.monotonic() + 0.1)
    enqueue_tone(eng.engine, 0.6, "heard")
    wait_until(eng.drained, timeout=5.0, what="PlaybackDrained")
    drained_at = eng.drained()[0].at
    record_until(rec, drained_at + 0.2)
    samples, rate, t0 = rec.stop()
    loud = np.flatnonzero(np.abs(samples) > SILENCE)
    heard_ms = len(loud) * 1000.0 / rate  # count, not span: a loaded machine may insert gaps
    gaps_s = (loud[-1] - loud[0] + 1) / rate - len(loud) / rate  # silence inserted downstream
    played_ms = eng.engine.player.played_ms("heard")
    assert played_ms == pytest.approx(600.0, abs=1.0)
    assert heard_ms == pytest.approx(played_ms, abs=30.0)
    onset = eng.engine.player.onset_at("heard")
    assert onset is not None
    assert t0 + loud[0] / rate == pytest.approx(onset, abs=0.05)
    assert abs(t0 + loud[-1] / rate - drained_at) < 0.05 + gaps_s


def test_flush_silences_the_speaker_quickly(eng: Engine, pulse_rig: PulseRig) -> None:
    rec = pulse_rig.record_monitor()
    enqueue_tone(eng.engine, 3.0, "long")
    wait_until(
        lambda: eng.engine.player.played_ms("long") > 500, timeout=5.0, what="the tone to play"
    )
    flushed_at = time.monotonic()
    epoch = eng.engine.player.flush()
    honored_at = wait_until(  # the first callback after flush(); a loaded machine may delay it
        lambda: eng.engine.playback.state.seen_epoch == epoch and time.monotonic(),
        timeout=5.0,
        interval=0.001,
        what="the callback to honour the flush",
    )
    record_until(rec, honored_at + 0.5)
    samples, rate, t0 = rec.stop()
    before = window(samples, rate, t0, flushed_at - 0.2, flushed_at - 0.05)
    assert rms_db(before) > -12.0  # the tone was playing
    loud = np.flatnonzero(np.abs(samples) > SILENCE)
    silent_at = t0 + (loud[-1] + 1) / rate
    assert silent_at - honored_at < 0.150  # loose; the bench measures the real figure
    assert silent_at - flushed_at < 1.0
    played = eng.engine.player.played_ms("long")
    heard = len(loud) * 1000.0 / rate
    assert heard == pytest.approx(played, abs=40.0)  # what was written is what was heard


def test_duck_and_resume_change_the_speaker_level(eng: Engine, pulse_rig: PulseRig) -> None:
    rec = pulse_rig.record_monitor()
    enqueue_tone(eng.engine, 3.0, "duck")
    wait_until(lambda: eng.engine.player.played_ms("duck") > 400, timeout=5.0, what="the tone")
    state = eng.engine.playback.state
    eng.engine.player.duck(0.25)
    ducked_at = applied(lambda: state.gain_now == 0.25)
    record_until(rec, ducked_at + 0.35)
    eng.engine.player.resume()
    resumed_at = applied(lambda: state.gain_now == 1.0)
    record_until(rec, resumed_at + 0.35)
    samples, rate, t0 = rec.stop()
    full = level_db(window(samples, rate, t0, ducked_at - 0.25, ducked_at - 0.05))
    ducked = level_db(window(samples, rate, t0, ducked_at + 0.1, ducked_at + 0.3))
    resumed = level_db(window(samples, rate, t0, resumed_at + 0.1, resumed_at + 0.3))
    assert ducked - full == pytest.approx(-12.0, abs=1.5)  # gain 0.25
    assert resumed == pytest.approx(full, abs=1.0)


def test_two_streams_when_devices_differ(pulse_rig: PulseRig) -> None:
    eng = start_engine(AudioConfig(input_device="pulse", output_device="default"))
    try:
        info = eng.engine.telemetry()
        assert (info.input_device, info.output_device) == ("pulse", "default")
        first = eng.pipeline.blocks()
        enqueue_tone(eng.engine, 0.3, "split")
        wait_until(eng.drained, timeout=5.0, what="PlaybackDrained on two streams")
        far = eng.pipeline.far_since(first)
        assert np.count_nonzero(np.abs(far) > SILENCE) > 0.25 * 48_000  # played blocks paired
        assert eng.engine.player.played_ms("split") == pytest.approx(300.0, abs=1.0)
    finally:
        eng.engine.stop()


def test_self_test_finds_the_loopback_echo(eng: Engine, pulse_rig: PulseRig) -> None:
    module = pulse_rig.load_echo_loopback(latency_ms=20, gain=0.5)
    try:
        result = eng.engine.self_test(seconds=1.0, timeout_s=10.0)
    finally:
        pulse_rig.unload_module(module)
    assert result.output_ok and result.input_ok
    assert result.echo_delay_ms is not None and 20.0 < result.echo_delay_ms < 300.0
    assert result.echo_attenuation_db is not None
    assert 3.0 < result.echo_attenuation_db < 12.0  # loopback gain 0.5 (6 dB); it resamples


def test_devices_are_listed_with_the_default_marked(
    pulse_rig: PulseRig, capsys: pytest.CaptureFixture[str]
) -> None:
    names = {d.name for d in list_devices()}
    assert {"pulse", "default"} <= names
    assert any(d.is_default_input for d in list_devices())
    parser = argparse.ArgumentParser()
    devices_cli.add_arguments(parser)
    assert devices_cli.run(parser.parse_args([])) == 0
    out = capsys.readouterr().out
    assert "pulse" in out and "> default input, < default output" in out
    assert any(line.startswith(">") for line in out.splitlines()[1:-1])
