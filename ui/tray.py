"""The tray icon: state at a glance and a menu (talk, interrupt, mute mic, show/hide, quit).

Built through a factory (``TrayFactory``) so tests and platforms without a tray host can replace
it: on the offscreen platform ``QSystemTrayIcon.isSystemTrayAvailable()`` is False.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QCoreApplication, QObject, Signal, SignalInstance, Slot
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.events import AssistantState
from ui.resources import state_icon
from ui.widgets.state_badge import state_text


def _tr(text: str) -> str:
    return QCoreApplication.translate("Tray", text)


class TrayLike(Protocol):
    """What the application needs from a tray (the real one or a test's)."""

    sig_talk_toggled: SignalInstance
    sig_interrupt_requested: SignalInstance
    sig_mute_toggled: SignalInstance
    sig_show_hide_requested: SignalInstance
    sig_quit_requested: SignalInstance

    def available(self) -> bool:
        """Whether a tray host shows the icon (close-to-tray only makes sense then)."""

    def set_state(self, state: AssistantState) -> None:
        """Show the assistant state (icon and tooltip)."""

    def set_interrupt_enabled(self, enabled: bool) -> None:
        """Enable the Interrupt entry while the assistant speaks or a tool runs."""

    def notify(self, title: str, text: str) -> None:
        """Show a short balloon message, if the host supports it."""


class Tray(QObject):
    """The system tray icon and its menu. Thread: GUI.

    Signals:
        sig_talk_toggled(bool): "Talk" was checked (start talking) or unchecked (send).
        sig_interrupt_requested(): "Interrupt" was chosen.
        sig_mute_toggled(bool): "Mute microphone" changed.
        sig_show_hide_requested(): show or hide the main window (menu or icon click).
        sig_quit_requested(): "Quit" was chosen.
    """

    sig_talk_toggled = Signal(bool)
    sig_interrupt_requested = Signal()
    sig_mute_toggled = Signal(bool)
    sig_show_hide_requested = Signal()
    sig_quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.talk_action = QAction(_tr("Talk (click again to send)"), self)
        self.talk_action.setCheckable(True)
        self.interrupt_action = QAction(_tr("Interrupt"), self)
        self.interrupt_action.setEnabled(False)
        self.mute_action = QAction(_tr("Mute microphone"), self)
        self.mute_action.setCheckable(True)
        self.show_action = QAction(_tr("Show / hide window"), self)
        self.quit_action = QAction(_tr("Quit VoxDesk"), self)
        self.menu.addActions([self.talk_action, self.interrupt_action, self.mute_action])
        self.menu.addSeparator()
        self.menu.addActions([self.show_action, self.quit_action])
        self.talk_action.toggled.connect(self.sig_talk_toggled)
        self.interrupt_action.triggered.connect(self.sig_interrupt_requested)
        self.mute_action.toggled.connect(self.sig_mute_toggled)
        self.show_action.triggered.connect(self.sig_show_hide_requested)
        self.quit_action.triggered.connect(self.sig_quit_requested)
        self.icon = QSystemTrayIcon(self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_icon_activated)
        self.set_state(AssistantState.DISCONNECTED)
        self.icon.show()

    def available(self) -> bool:
        """Whether a tray host shows the icon."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def set_state(self, state: AssistantState) -> None:
        """Show the state in the icon and the tooltip."""
        icon: QIcon = state_icon(state)
        self.icon.setIcon(icon)
        self.icon.setToolTip(f"VoxDesk — {state_text(state)}")

    def set_interrupt_enabled(self, enabled: bool) -> None:
        """Enable or disable the Interrupt entry."""
        self.interrupt_action.setEnabled(enabled)

    def notify(self, title: str, text: str) -> None:
        """Show a balloon message when supported."""
        if self.available() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 5000)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.sig_show_hide_requested.emit()


TrayFactory = Callable[[QObject], TrayLike]
"""Builds the tray given its parent; ``default_tray_factory`` in the app, a fake in tests."""


def default_tray_factory(parent: QObject) -> TrayLike:
    """Build the real :class:`Tray`."""
    return Tray(parent)
