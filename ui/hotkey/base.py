"""The hotkey backend protocol, key-spec parsing and the dispatcher that posts commands.

A backend watches for its bound keys system-wide and calls ``on_press(action)`` /
``on_release(action)`` from a thread it owns. :class:`HotkeyDispatcher` turns those calls into
core commands through the bridge (``Bridge.post`` is thread-safe), and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

PUSH_TO_TALK = "push_to_talk"
INTERRUPT = "interrupt"
ACTIONS = (PUSH_TO_TALK, INTERRUPT)
MODIFIERS = ("ctrl", "alt", "shift", "super")

KeyCallback = Callable[[str], None]
"""Called with an action id (``push_to_talk`` or ``interrupt``) from the backend's thread."""


class HotkeyUnavailable(RuntimeError):
    """The backend cannot work here; the message says why, in words for the user."""


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A parsed hotkey: required modifiers and the main key (lower case, e.g. ``f9``)."""

    modifiers: frozenset[str]
    key: str

    @classmethod
    def parse(cls, spec: str) -> KeySpec:
        """Parse ``F9`` or ``ctrl+shift+space``.

        Raises:
            ValueError: empty spec, or only modifiers.
        """
        parts = [p.strip().lower() for p in spec.split("+") if p.strip()]
        if not parts:
            raise ValueError("empty hotkey")
        *mods, key = parts
        aliases = {"control": "ctrl", "meta": "super", "win": "super", "cmd": "super"}
        mods = [aliases.get(m, m) for m in mods]
        unknown = [m for m in mods if m not in MODIFIERS]
        if unknown or key in MODIFIERS:
            raise ValueError(f"not a usable hotkey: {spec!r}")
        return cls(frozenset(mods), key)


class HotkeyBackend(Protocol):
    """A way to receive global key presses and releases."""

    name: str

    def start(
        self, bindings: Mapping[str, str], on_press: KeyCallback, on_release: KeyCallback
    ) -> None:
        """Start watching ``bindings`` (action id → key spec).

        Raises:
            HotkeyUnavailable: this backend cannot work on this desktop (message for the user).
        """

    def stop(self) -> None:
        """Stop watching; safe to call twice."""

    def describe(self) -> str:
        """A sentence for the Hotkeys page saying what works (and what does not)."""


class HotkeyDispatcher:
    """Posts commands for hotkey actions through the bridge; ignores auto-repeat and stray ups.

    Thread: ``on_press``/``on_release`` may be called from any thread.

    Args:
        press_to_talk: posts ``PushToTalkPressed`` (``Bridge.press_to_talk``).
        release_to_talk: posts ``PushToTalkReleased``.
        interrupt: posts ``Interrupt``.
    """

    def __init__(
        self,
        press_to_talk: Callable[[], None],
        release_to_talk: Callable[[], None],
        interrupt: Callable[[], None],
    ) -> None:
        self._press = press_to_talk
        self._release = release_to_talk
        self._interrupt = interrupt
        self._lock = threading.Lock()
        self._down: set[str] = set()

    def on_press(self, action: str) -> None:
        """An action key went down (repeats while held are ignored)."""
        with self._lock:
            if action in self._down:
                return
            self._down.add(action)
        if action == PUSH_TO_TALK:
            self._press()
        elif action == INTERRUPT:
            self._interrupt()

    def on_release(self, action: str) -> None:
        """An action key went up."""
        with self._lock:
            if action not in self._down:
                return
            self._down.discard(action)
        if action == PUSH_TO_TALK:
            self._release()
