"""What one setting is: ``Setting`` (type, default, range, help), ``Applies`` and ``SettingError``.

The table of actual settings is ``app.settings.schema.REGISTRY``; import these names from there.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

Value = bool | int | float | str
"""Every setting value is one of these scalar types."""

ValueType = type[bool] | type[int] | type[float] | type[str]
"""The declared type of a setting."""


class Applies(enum.Enum):
    """When a changed setting takes effect; the dialog shows ``label`` next to each change."""

    IMMEDIATELY = "immediately"
    STREAM_RESTART = "stream_restart"
    SESSION_RESTART = "session_restart"
    APP_RESTART = "app_restart"

    @property
    def label(self) -> str:
        """User-facing phrase, e.g. ``"restarts audio"``."""
        return _APPLIES_LABELS[self]


_APPLIES_LABELS = {
    Applies.IMMEDIATELY: "takes effect now",
    Applies.STREAM_RESTART: "restarts audio",
    Applies.SESSION_RESTART: "reconnects the session",
    Applies.APP_RESTART: "after restarting VoxDesk",
}


class SettingError(ValueError):
    """A value was rejected for a setting; ``str(error)`` is a user-readable sentence.

    Attributes:
        key: the dotted key of the setting (or the unknown key).
        message: what is wrong and what is allowed, phrased for the user.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


Check = Callable[[Value], str | None]
"""Extra validation: returns ``None`` when the value is fine, else the reason (a sentence end)."""


@dataclass(frozen=True)
class Setting:
    """One user setting.

    Attributes:
        key: dotted key; the first part is the section id.
        type: ``bool``, ``int``, ``float`` or ``str``.
        default: value used when the user has not chosen one.
        label: short name shown in the dialog.
        help: one or two sentences on what it does and when to change it.
        applies: when a change takes effect.
        minimum: smallest allowed number (numbers only).
        maximum: largest allowed number (numbers only).
        choices: allowed values, each normalised to ``(value, label)``.
        unit: unit shown after the number, e.g. ``"ms"``, ``"dB"``.
        advanced: hidden unless the user asks for advanced settings.
        step: numbers must be a multiple of this (from ``minimum``), and the spin box steps by it.
        check: extra validation for free-form strings (URLs, hotkeys).
    """

    key: str
    type: ValueType
    default: Value
    label: str
    help: str
    applies: Applies
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[tuple[Value, str], ...] = ()
    unit: str = ""
    advanced: bool = False
    step: int | float | None = None
    check: Check | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Plain values are accepted too (labelled by their text).
        normalised = tuple(c if isinstance(c, tuple) else (c, str(c)) for c in self.choices)
        object.__setattr__(self, "choices", normalised)

    @property
    def section(self) -> str:
        """The section id, i.e. the first part of the key."""
        return self.key.split(".", 1)[0]

    @property
    def choice_values(self) -> tuple[Value, ...]:
        """The allowed values, without their labels (empty when any value in range is allowed)."""
        return tuple(value for value, _ in self.choices)

    def validate(self, value: object) -> Value:
        """Return ``value`` converted to this setting's type, or raise ``SettingError``."""
        converted = self._convert(value)
        problem = self._problem(converted)
        if problem is not None:
            raise SettingError(self.key, f"{self.label}: {problem}")
        return converted

    def _convert(self, value: object) -> Value:
        shown = _show(value)
        if self.type is bool:
            if isinstance(value, bool):
                return value
            raise SettingError(self.key, f"{self.label} must be on or off (got {shown}).")
        if self.type is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise SettingError(self.key, f"{self.label} must be a whole number (got {shown}).")
        if self.type is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                if math.isfinite(value):
                    return float(value)
            raise SettingError(self.key, f"{self.label} must be a number (got {shown}).")
        if isinstance(value, str):
            return value
        raise SettingError(self.key, f"{self.label} must be text (got {shown}).")

    def _problem(self, value: Value) -> str | None:
        if self.choices and value not in self.choice_values:
            allowed = ", ".join(label for _, label in self.choices)
            return f"{_show(value)} is not one of the choices ({allowed})."
        if isinstance(value, int | float) and not isinstance(value, bool):
            unit = f" {self.unit}" if self.unit else ""
            low, high = self.minimum, self.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                return f"must be between {low} and {high}{unit} (got {value}{unit})."
            # A float step is only the spin box increment; whole-number steps are enforced.
            if self.step is not None and self.type is int:
                offset = (value - (low or 0)) / self.step
                if not math.isclose(offset, round(offset), abs_tol=1e-9):
                    return f"must be a multiple of {self.step}{unit} (got {value}{unit})."
        if self.check is not None:
            return self.check(value)
        return None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def websocket_url(value: Value) -> str | None:
    """Accept an empty string or a ``ws://``/``wss://`` URL."""
    text = str(value)
    if text == "" or re.fullmatch(r"wss?://[^\s/]+(/\S*)?", text):
        return None
    return "must be empty or a ws:// or wss:// address, e.g. wss://api.openai.com/v1/realtime."


def http_url(value: Value) -> str | None:
    """Accept an empty string or an ``http://``/``https://`` URL."""
    text = str(value)
    if text == "" or re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        return None
    return "must be empty or an http:// or https:// address, e.g. http://127.0.0.1:11434/v1."


def hotkey(value: Value) -> str | None:
    """Accept a key name or a ``+``-joined combination (``F9``, ``ctrl+shift+space``)."""
    if re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", str(value)):
        return None
    return "must be a key such as F9, or a combination such as ctrl+shift+space."


def max_length(limit: int) -> Check:
    """Return a check that accepts text of at most ``limit`` characters."""

    def check(value: Value) -> str | None:
        return None if len(str(value)) <= limit else f"must be at most {limit} characters long."

    return check
