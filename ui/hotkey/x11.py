"""Global hotkeys on X11 (and Windows/macOS) through pynput: press and release, auto-repeat ignored.

pynput is imported lazily: on Linux its import raises when there is no X display. On macOS the
process (or the packaged app) must be allowed under System Settings → Privacy & Security →
Accessibility and Input Monitoring, or no key events arrive (``Listener.IS_TRUSTED`` is False).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QCoreApplication

from ui.hotkey.base import HotkeyUnavailable, KeyCallback, KeySpec

log = logging.getLogger("ui.hotkey")

READY_TIMEOUT_S = 5.0
_MODIFIER_KEYS = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "super": "cmd"}


class PynputBackend:
    """Watches keys system-wide with a ``pynput.keyboard.Listener`` (its own thread).

    Thread: ``start``/``stop`` from the GUI thread; callbacks run on pynput's listener thread.
    """

    name = "x11"

    def __init__(self) -> None:
        self._listener: Any = None
        self._bindings: list[tuple[str, frozenset[Any], Any]] = []
        self._held_mods: set[Any] = set()
        self._down: set[str] = set()
        self._lock = threading.Lock()
        self._on_press: KeyCallback | None = None
        self._on_release: KeyCallback | None = None
        self._mods: dict[Any, str] = {}
        self._canon: Callable[[Any], Any] = lambda key: key

    @staticmethod
    def load() -> Any:
        """Import ``pynput.keyboard``.

        Raises:
            HotkeyUnavailable: pynput is missing or there is no display it can use.
        """
        try:
            from pynput import keyboard
        except Exception as exc:  # pynput raises ImportError (or Xlib errors) without X
            raise HotkeyUnavailable(
                QCoreApplication.translate("Hotkeys", "no X11 display for global keys: %1").replace(
                    "%1", str(exc).splitlines()[0]
                )
            ) from exc
        return keyboard

    def start(
        self, bindings: Mapping[str, str], on_press: KeyCallback, on_release: KeyCallback
    ) -> None:
        """Start the listener for ``bindings`` (action id → key spec such as ``F9``)."""
        keyboard = self.load()
        self.stop()
        self._on_press, self._on_release = on_press, on_release
        listener = keyboard.Listener(on_press=self._handle_press, on_release=self._handle_release)
        canon = listener.canonical
        self._mods = {canon(getattr(keyboard.Key, v)): k for k, v in _MODIFIER_KEYS.items()}
        bound: list[tuple[str, frozenset[Any], Any]] = []
        for action, spec in bindings.items():
            parsed = KeySpec.parse(spec)
            key = canon(_to_pynput(keyboard, parsed.key))
            mods = frozenset(
                canon(getattr(keyboard.Key, _MODIFIER_KEYS[m])) for m in parsed.modifiers
            )
            bound.append((action, mods, key))
        with self._lock:
            self._bindings = bound
            self._canon = canon
        listener.daemon = True
        listener.name = "hotkey-x11"
        listener.start()
        self._listener = listener
        # Listener.wait() has no timeout: wait for readiness from a helper thread, bounded.
        waiter = threading.Thread(target=listener.wait, name="hotkey-x11-ready", daemon=True)
        waiter.start()
        waiter.join(READY_TIMEOUT_S)
        if waiter.is_alive():
            log.warning("the X11 key listener did not become ready in %.0f s", READY_TIMEOUT_S)
        log.info("global hotkeys via pynput: %s", dict(bindings))

    def stop(self) -> None:
        """Stop the listener (its thread ends with the next X event; it is a daemon)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.stop()
            except Exception as exc:  # the X server already went away (logout, Xvfb killed)
                log.info("the X11 key listener stopped with the display gone: %s", exc)
        with self._lock:
            self._held_mods.clear()
            self._down.clear()

    def describe(self) -> str:
        """What works with this backend."""
        return QCoreApplication.translate(
            "Hotkeys", "Global hotkeys work in every application (X11 keyboard listener)."
        )

    @property
    def listener(self) -> Any:
        """The running pynput listener, or None."""
        return self._listener

    def _canonical(self, key: Any) -> Any:
        return self._canon(key)

    def _handle_press(self, key: Any) -> None:
        try:
            canon = self._canonical(key)
            fire: list[str] = []
            with self._lock:
                if canon in self._mods:
                    self._held_mods.add(canon)
                    return
                for action, mods, bound in self._bindings:
                    if canon == bound and mods <= self._held_mods and action not in self._down:
                        self._down.add(action)  # auto-repeat presses while held are ignored
                        fire.append(action)
            for action in fire:
                if self._on_press is not None:
                    self._on_press(action)
        except Exception:  # an exception here would silently stop pynput's listener
            log.exception("hotkey press handler failed")

    def _handle_release(self, key: Any) -> None:
        try:
            canon = self._canonical(key)
            fire: list[str] = []
            with self._lock:
                self._held_mods.discard(canon)
                for action, _mods, bound in self._bindings:
                    if canon == bound and action in self._down:
                        self._down.discard(action)
                        fire.append(action)
            for action in fire:
                if self._on_release is not None:
                    self._on_release(action)
        except Exception:
            log.exception("hotkey release handler failed")


def _to_pynput(keyboard: Any, name: str) -> Any:
    if len(name) == 1:
        return keyboard.KeyCode.from_char(name)
    key = getattr(keyboard.Key, name, None)
    if key is None:
        raise ValueError(f"unknown key name {name!r}")
    return key
