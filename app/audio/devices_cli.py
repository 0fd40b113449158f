"""``voxdesk devices``: list audio devices, the defaults marked, optionally as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from app.audio.devices import DeviceInfo, list_devices


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``voxdesk devices``."""
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def format_devices(devices: list[DeviceInfo]) -> str:
    """The human-readable table: ``>``/``<`` mark the default input/output."""
    if not devices:
        return "No audio devices found (is a sound server running? is libportaudio2 installed?)"
    lines = ["    idx  in out  rate    host  name"]
    for dev in devices:
        mark = (">" if dev.is_default_input else " ") + ("<" if dev.is_default_output else " ")
        lines.append(
            f"{mark}  {dev.index:3d}  {dev.max_input_channels:2d} {dev.max_output_channels:3d}"
            f"  {dev.default_samplerate:6.0f}  {dev.hostapi:5s} {dev.name}"
        )
    lines.append("> default input, < default output")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """List the devices; returns 1 when PortAudio cannot be loaded."""
    try:
        devices = list_devices()
    except (OSError, ImportError) as exc:
        print(f"voxdesk devices: audio is unavailable: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps([asdict(d) for d in devices], indent=2))
    else:
        print(format_devices(devices))
    return 0
