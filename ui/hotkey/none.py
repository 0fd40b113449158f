"""The fallback when no global hotkey mechanism works: say so clearly."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication

from ui.hotkey.base import KeyCallback


class NoHotkeyBackend:
    """Does nothing, and explains that only the in-window shortcut (Space) works.

    Args:
        reason: why no global backend is available (shown to the user).
    """

    name = "none"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason

    def start(
        self, bindings: Mapping[str, str], on_press: KeyCallback, on_release: KeyCallback
    ) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""

    def describe(self) -> str:
        """The notice shown on the Hotkeys page and once in the status line."""
        text = QCoreApplication.translate(
            "Hotkeys",
            "Global hotkeys are not available on this desktop, so only the in-window shortcut "
            "works: hold Space while the VoxDesk window has focus.",
        )
        return f"{text} ({self.reason})" if self.reason else text
