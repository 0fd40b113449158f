"""Upgrades of stored settings from older layouts, one registered function per version step.

Layouts:

- **Version 1** (VoxDesk ≤ 0.0.x): one flat JSON object with ``"version": 1`` and short keys —
  ``input_device``, ``output_device``, ``vad_threshold`` in percent (0–100), ``ptt_key``,
  ``interrupt_key``, ``hands_free`` (bool), ``provider`` (``"offline"``/``"openai"``/``"custom"``),
  ``server_url``, ``model``, ``voice``, ``instructions``, ``echo_cancellation``,
  ``noise_suppression``, ``log_level`` (lower case) and ``minimize_to_tray``. A file without any
  version field is read as version 1.
- **Version 2** (current): ``{"schema_version": 2, "<section>": {"<name>": value, ...}, ...}``,
  holding only values that differ from the registry defaults, plus any unknown keys.

A migration takes the whole decoded file of version N and returns the file of version N+1; the
version field is set by ``migrate``. Keys a migration does not know are carried over unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.settings.schema import SCHEMA_VERSION

Layout = dict[str, Any]
"""A decoded settings file."""

Migration = Callable[[Layout], Layout]
"""Turns the file of one version into the file of the next."""

VERSION_KEY = "schema_version"
"""Field holding the layout version (version 1 files used ``"version"``)."""

_MIGRATIONS: dict[int, Migration] = {}


class MigrationError(ValueError):
    """The file cannot be upgraded (no migration registered, or the data made a step fail)."""


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register the decorated function as the upgrade from ``from_version`` to the next version."""

    def register(func: Migration) -> Migration:
        if from_version in _MIGRATIONS:
            raise ValueError(f"a migration from version {from_version} is already registered")
        _MIGRATIONS[from_version] = func
        return func

    return register


def file_version(data: Layout) -> int:
    """Return the layout version of a decoded file.

    Raises:
        MigrationError: the version field is not a positive whole number.
    """
    version = data.get(VERSION_KEY, data.get("version", 1))
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MigrationError(f"the schema version {version!r} is not a positive whole number")
    return version


def migrate(data: Layout, to_version: int = SCHEMA_VERSION) -> Layout:
    """Return ``data`` upgraded step by step from its own version to ``to_version``.

    Raises:
        MigrationError: a step is missing or failed on this data.
    """
    version = file_version(data)
    current = dict(data)
    while version < to_version:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise MigrationError(f"no migration from settings version {version}")
        try:
            current = step(dict(current))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MigrationError(f"upgrading from version {version} failed: {exc}") from exc
        version += 1
        current.pop("version", None)
        current[VERSION_KEY] = version
    return current


def _put(out: Layout, dotted: str, value: object) -> None:
    section, name = dotted.split(".", 1)
    out.setdefault(section, {})[name] = value


@migration(from_version=1)
def _flat_to_sections(old: Layout) -> Layout:
    """Version 1 → 2: sectioned keys, VAD threshold as a probability, upper-case log level."""
    renames = {
        "input_device": "audio.input_device",
        "output_device": "audio.output_device",
        "ptt_key": "hotkey.push_to_talk",
        "interrupt_key": "hotkey.interrupt",
        "server_url": "session.url",
        "model": "session.model",
        "voice": "session.voice",
        "instructions": "session.instructions",
        "echo_cancellation": "audio.aec_enabled",
        "noise_suppression": "audio.ns_enabled",
        "minimize_to_tray": "ui.close_to_tray",
    }
    new: Layout = {}
    for key, value in old.items():
        if key == "version":
            continue
        if key in renames:
            _put(new, renames[key], value)
        elif key == "vad_threshold":
            # Percent became a probability; a non-number is passed on for validation to reject.
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            _put(new, "audio.vad_threshold", round(value / 100, 4) if is_number else value)
        elif key == "hands_free":
            _put(new, "session.turn_mode", "hands_free" if value is True else "push_to_talk")
        elif key == "provider":
            _put(new, "session.provider", "local" if value == "offline" else value)
        elif key == "log_level":
            _put(new, "log.level", value.upper() if isinstance(value, str) else value)
        else:
            new[key] = value
    return new
