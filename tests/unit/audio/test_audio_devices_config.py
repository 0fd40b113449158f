"""Device choice by name with default fallback, the devices CLI table, config validation,
PortAudio clock mapping and the self-test's echo estimate."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from app.audio import devices_cli
from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.devices import DeviceInfo, choose_device
from app.audio.selftest import analyze, estimate_echo, make_test_signal


def dev(
    index: int, name: str, ins: int, outs: int, din: bool = False, dout: bool = False
) -> DeviceInfo:
    return DeviceInfo(index, name, "ALSA", ins, outs, 48000.0, din, dout)


DEVICES = [
    dev(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", 2, 2),
    dev(1, "USB Headset: Audio (hw:1,0)", 1, 2),
    dev(2, "pulse", 32, 32),
    dev(3, "default", 32, 32, din=True, dout=True),
]


def test_choose_by_exact_name_then_substring_else_default() -> None:
    exact = choose_device(DEVICES, "USB Headset: Audio (hw:1,0)", "input")
    assert (exact.index, exact.fell_back) == (1, False)
    sub = choose_device(DEVICES, "usb headset", "output")
    assert (sub.index, sub.name) == (1, "USB Headset: Audio (hw:1,0)")
    missing = choose_device(DEVICES, "Bluetooth", "input")
    assert (missing.index, missing.name, missing.fell_back) == (None, "default", True)
    default = choose_device(DEVICES, None, "output")
    assert (default.index, default.fell_back) == (None, False)


def test_choose_ignores_devices_without_channels_of_that_kind() -> None:
    devices = [dev(0, "Mic Only", 1, 0), dev(1, "default", 2, 2, True, True)]
    assert choose_device(devices, "Mic Only", "output").fell_back
    assert choose_device(devices, "Mic Only", "input").index == 0


def test_devices_table_marks_defaults() -> None:
    text = devices_cli.format_devices(DEVICES)
    line = next(li for li in text.splitlines() if li.endswith(" default"))
    assert line.startswith("><")
    assert "No audio devices" in devices_cli.format_devices([])
    parser = argparse.ArgumentParser()
    devices_cli.add_arguments(parser)
    assert parser.parse_args(["--json"]).json is True


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capture_ring_blocks": 100},
        {"block_ms": 7, "device_rate": 44_100},
        {"flush_fade_ms": 6.0},
        {"playback_prebuffer_ms": 500},
        {"resample_quality": "best"},
        {"output_idle_s": 0.0},
        {"far_lead_ms": -1.0},
        {"playback_jitter_memory": 0},
        {"playback_jitter_margin_ms": -1.0},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AudioConfig(**kwargs)  # type: ignore[arg-type]


def test_config_derived_values() -> None:
    config = AudioConfig(device_rate=16_000, playback_capacity_s=1.0)
    assert config.block_frames == 160
    assert config.playback_capacity_frames == 16_384
    assert config.split_streams  # by default the output is its own, on-demand stream
    assert not AudioConfig(output_on_demand=False).split_streams  # one duplex stream
    assert AudioConfig(output_on_demand=False, output_device="USB").split_streams


def test_pa_clock_maps_dac_times_with_the_smallest_offset_and_falls_back() -> None:
    clock = PaClock(block_s=0.01)
    clock.set_nominal_latency(0.01, 0.03)
    assert clock.capture_time(100.0, 7) == pytest.approx(100.0 - 0.02)
    assert clock.dac_to_monotonic(100.0, 0.0) == pytest.approx(100.03)
    clock.observe(1000.004, 10.0)  # callback ran 4 ms late
    clock.observe(1000.011, 10.01)  # 1 ms late: the better pairing
    assert clock.offset == pytest.approx(990.001)
    assert clock.dac_to_monotonic(1000.011, 10.05) == pytest.approx(1000.051)


def test_capture_clock_is_the_lower_envelope_of_callback_times() -> None:
    clock = PaClock(block_s=0.01, window=50)
    rng = np.random.default_rng(3)
    origin = 500.0
    for seq in range(1, 200):  # each callback runs 0..8 ms after its block completed
        clock.observe_capture(origin + (seq + 1) * 0.01 + rng.uniform(0.0, 0.008), seq)
    assert clock.capture_time(0.0, 150) == pytest.approx(origin + 1.5, abs=0.001)
    clock.reset_capture()
    clock.observe_capture(900.0, 10)
    assert clock.capture_time(0.0, 10) == pytest.approx(900.0 - 0.01)


def test_capture_clock_follows_a_drifting_device_within_the_window() -> None:
    clock = PaClock(block_s=0.01, window=20)
    for seq in range(1, 400):  # the device is 1000 ppm slow: blocks arrive ever later
        clock.observe_capture(100.0 + (seq + 1) * 0.01 * 1.001, seq)
    true_start = 100.0 + 399 * 0.01 * 1.001
    assert clock.capture_time(0.0, 399) == pytest.approx(true_start, abs=0.0005)


def test_echo_estimate_on_a_synthetic_path() -> None:
    rate = 16_000
    far = make_test_signal(rate, 1.0)
    delay = int(0.047 * rate)
    mic = np.zeros_like(far)
    mic[delay:] = 0.1 * far[:-delay]
    mic += np.random.default_rng(0).normal(0, 1e-3, len(mic)).astype(np.float32)
    delay_ms, attenuation, corr = estimate_echo(mic, far, rate)
    assert delay_ms == pytest.approx(47.0, abs=0.1)
    assert attenuation == pytest.approx(20.0, abs=0.5)
    assert corr > 0.9


def test_echo_estimate_reports_none_without_an_echo_path() -> None:
    rate = 16_000
    far = make_test_signal(rate, 0.5)
    mic = np.random.default_rng(1).normal(0, 0.05, len(far)).astype(np.float32)
    result = analyze(mic, far, rate)
    assert result.echo_delay_ms is None and result.echo_attenuation_db is None
    assert result.input_ok and result.output_ok
    assert "none detected" in result.message
    silent = analyze(np.zeros_like(far), far, rate)
    assert not silent.input_ok
