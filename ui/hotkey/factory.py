"""Choosing the global-hotkey backend for this desktop, and running it from the settings."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping

from ui.hotkey.base import (
    INTERRUPT,
    PUSH_TO_TALK,
    HotkeyBackend,
    HotkeyDispatcher,
    HotkeyUnavailable,
)
from ui.hotkey.none import NoHotkeyBackend

log = logging.getLogger("ui.hotkey")

BackendFactory = Callable[[], HotkeyBackend]


def choose_backend(
    env: Mapping[str, str] | None = None, platform: str = sys.platform
) -> HotkeyBackend:
    """Pick the backend for this session.

    Wayland: the GlobalShortcuts portal when the desktop offers it, else none (pynput would only
    see keys typed into X11 apps there). X11, Windows, macOS: pynput. No display: none.
    """
    env = os.environ if env is None else env
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))
    if platform.startswith("linux") and wayland:
        from ui.hotkey.portal import PortalBackend

        portal = PortalBackend()
        if portal.available():
            return portal
        return NoHotkeyBackend("Wayland without the GlobalShortcuts portal")
    if platform in ("win32", "darwin") or env.get("DISPLAY"):
        from ui.hotkey.x11 import PynputBackend

        return PynputBackend()
    return NoHotkeyBackend("no display server")


class HotkeyService:
    """Runs one backend with the keys from the settings; restarts it when they change.

    Thread: GUI. The backend's callbacks go to a :class:`HotkeyDispatcher` that only posts
    commands through the bridge.

    Args:
        dispatcher: posts the commands.
        backend_factory: builds the backend (``choose_backend`` by default; tests pass a fake).
    """

    def __init__(
        self, dispatcher: HotkeyDispatcher, backend_factory: BackendFactory = choose_backend
    ) -> None:
        self._dispatcher = dispatcher
        self._factory = backend_factory
        self.backend: HotkeyBackend | None = None
        self.status = ""

    def apply(self, enabled: bool, push_to_talk: str, interrupt: str) -> str:
        """(Re)start with these settings; returns the status sentence for the user."""
        self.stop()
        if not enabled:
            self.status = "Global hotkeys are turned off in the settings."
            return self.status
        backend = self._factory()
        bindings = {PUSH_TO_TALK: push_to_talk, INTERRUPT: interrupt}
        try:
            backend.start(bindings, self._dispatcher.on_press, self._dispatcher.on_release)
        except (HotkeyUnavailable, ValueError) as exc:
            log.info("global hotkeys unavailable: %s", exc)
            backend = NoHotkeyBackend(str(exc))
        self.backend = backend
        self.status = backend.describe()
        return self.status

    def stop(self) -> None:
        """Stop the running backend."""
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.stop()
