"""Audio devices: list, choose by name with the system default as fallback, re-scan.

Names are the stable key (indices change between runs); re-initialising PortAudio lets a
restarted sound server's devices be seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger("app.audio")

Kind = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device as the user sees it.

    Attributes:
        index: PortAudio index (valid only until PortAudio is re-initialised).
        name: device name, the stable key settings store.
        hostapi: host API name (ALSA, ...).
        max_input_channels: 0 for output-only devices.
        max_output_channels: 0 for input-only devices.
        default_samplerate: the device's preferred rate.
        is_default_input: the system default input.
        is_default_output: the system default output.
    """

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    """The device a name resolved to.

    Attributes:
        index: PortAudio index, or None for the system default.
        name: the resolved device's name (the default's real name when known).
        fell_back: a name was asked for but not found, so the default is used.
    """

    index: int | None
    name: str
    fell_back: bool


def _sd() -> Any:
    import sounddevice

    return sounddevice


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio currently knows, with the defaults marked."""
    sd = _sd()
    default_in, default_out = _default_indices()
    hostapis = sd.query_hostapis()
    result = []
    for index, dev in enumerate(sd.query_devices()):
        result.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                hostapi=str(hostapis[dev["hostapi"]]["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_samplerate=float(dev["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            )
        )
    return result


def _default_indices() -> tuple[int, int]:
    sd = _sd()
    try:
        pair = sd.default.device
        return int(pair[0]), int(pair[1])
    except Exception:  # noqa: BLE001 - no default device is a normal state
        return -1, -1


def find_device(devices: list[DeviceInfo], name: str, kind: Kind) -> DeviceInfo | None:
    """The device called ``name`` that can do ``kind``: exact name first, then a substring match.

    Args:
        devices: the list to search (from ``list_devices``).
        name: the stored device name (case-insensitive for the substring match).
        kind: "input" or "output".
    """
    usable = [d for d in devices if _channels(d, kind) > 0]
    for dev in usable:
        if dev.name == name:
            return dev
    lowered = name.lower()
    for dev in usable:
        if lowered in dev.name.lower():
            return dev
    return None


def _channels(dev: DeviceInfo, kind: Kind) -> int:
    return dev.max_input_channels if kind == "input" else dev.max_output_channels


def choose_device(devices: list[DeviceInfo], name: str | None, kind: Kind) -> DeviceChoice:
    """Resolve a stored device name to an index, falling back to the system default."""
    default = next(
        (d for d in devices if (d.is_default_input if kind == "input" else d.is_default_output)),
        None,
    )
    default_name = default.name if default is not None else "system default"
    if name is None:
        return DeviceChoice(index=None, name=default_name, fell_back=False)
    found = find_device(devices, name, kind)
    if found is None:
        log.warning("%s device %r not found; using the system default", kind, name)
        return DeviceChoice(index=None, name=default_name, fell_back=True)
    return DeviceChoice(index=found.index, name=found.name, fell_back=False)


def reinitialize_portaudio() -> None:
    """Re-scan devices: PortAudio reads the ALSA/Pulse configuration only when it initialises.

    Closes every open stream of this process; call it only with no stream open.
    """
    sd = _sd()
    sd._terminate()
    sd._initialize()
