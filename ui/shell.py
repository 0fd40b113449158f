"""The composed GUI: bridge, main window, tray, global hotkeys, settings dialog, crash reports."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from PySide6.QtWidgets import QApplication

from app.events import SessionStateChanged
from ui.bridge import Bridge, CoreFacade
from ui.crash_dialog import CrashReporter
from ui.hotkey.base import HotkeyBackend, HotkeyDispatcher
from ui.hotkey.factory import HotkeyService, choose_backend
from ui.main_window import INTERRUPTIBLE, MainWindow
from ui.resources import app_icon
from ui.settings.dialog import SettingsDialog
from ui.tray import TrayFactory, default_tray_factory

log = logging.getLogger("ui")

_WATCHED_KEYS = ("hotkey.enabled", "hotkey.push_to_talk", "hotkey.interrupt", "ui.close_to_tray")


def _tr(text: str) -> str:
    return QCoreApplication.translate("Shell", text)


class Shell(QObject):
    """Owns every GUI part for one core and wires them together. Thread: GUI.

    Signals:
        sig_quit_requested(): the user asked to quit (window, menu or tray).
        _sig_settings_changed(): watched settings changed (emitted from the applying thread).
    """

    sig_quit_requested = Signal()
    _sig_settings_changed = Signal()

    def __init__(
        self,
        core: CoreFacade,
        *,
        tray_factory: TrayFactory = default_tray_factory,
        hotkey_factory: Callable[[], HotkeyBackend] = choose_backend,
        crash_reporter: CrashReporter | None = None,
    ) -> None:
        super().__init__()
        self.core = core
        self.crash_reporter = crash_reporter
        self.bridge = Bridge(core, self)
        self.window = MainWindow(self.bridge)
        self.window.setWindowIcon(app_icon())
        self.tray = tray_factory(self)
        self.settings_dialog: SettingsDialog | None = None
        dispatcher = HotkeyDispatcher(
            self.bridge.press_to_talk, self.bridge.release_to_talk, self.bridge.interrupt
        )
        self.hotkeys = HotkeyService(dispatcher, hotkey_factory)
        self._unsubscribe: Callable[[], None] | None = None
        self._wire()
        self._apply_settings()
        if crash_reporter is not None:
            installer = self.bridge.optional("set_loop_exception_handler")
            if installer is not None:
                installer(crash_reporter.asyncio_handler())

    def _wire(self) -> None:
        w, t, b = self.window, self.tray, self.bridge
        b.sig_state_changed.connect(self._on_bridge_state_changed)
        w.sig_settings_requested.connect(self.open_settings)
        w.sig_quit_requested.connect(self.quit)
        t.sig_talk_toggled.connect(self._on_tray_talk_toggled)
        t.sig_interrupt_requested.connect(b.interrupt)
        t.sig_mute_toggled.connect(w.mute_button.setChecked)
        t.sig_show_hide_requested.connect(self.toggle_window)
        t.sig_quit_requested.connect(self.quit)
        self._sig_settings_changed.connect(self._apply_settings)
        store = getattr(self.core, "settings_store", None)
        if store is not None and hasattr(store, "subscribe"):
            self._unsubscribe = store.subscribe(
                _WATCHED_KEYS, lambda _snapshot, _keys: self._sig_settings_changed.emit()
            )

    def _setting(self, key: str, default: object) -> object:
        try:
            return self.core.settings_store.current.get(key)
        except Exception:  # no store: use the registry default the caller passed
            return default

    @Slot()
    def _apply_settings(self) -> None:
        self.window.close_to_tray = (
            bool(self._setting("ui.close_to_tray", True)) and self.tray.available()
        )
        status = self.hotkeys.apply(
            bool(self._setting("hotkey.enabled", True)),
            str(self._setting("hotkey.push_to_talk", "F9")),
            str(self._setting("hotkey.interrupt", "F10")),
        )
        if status != self.bridge.hotkey_status:
            self.bridge.hotkey_status = status
            if self.hotkeys.backend is not None and self.hotkeys.backend.name == "none":
                self.window.statusBar().showMessage(status, 10000)

    def show(self, start_minimized: bool | None = None) -> None:
        """Show the window, or start minimized (``ui.start_minimized`` unless overridden).

        Minimized means only the tray icon when a tray host shows it. Without one, a hidden
        window could not be reached again, so it is minimized to the taskbar instead and the
        status line says why.
        """
        minimized = (
            bool(self._setting("ui.start_minimized", False))
            if start_minimized is None
            else start_minimized
        )
        if not minimized:
            self.window.show()
            return
        if self.tray.available():
            return
        log.info("start minimized: no system tray host, minimizing to the taskbar")
        self.window.statusBar().showMessage(
            _tr("This desktop shows no system tray, so VoxDesk started minimized to the taskbar.")
        )
        self.window.showMinimized()

    @Slot()
    def toggle_window(self) -> None:
        """Show the window if hidden, hide it otherwise (tray click)."""
        if self.window.isVisible():
            self.window.hide()
        else:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()

    @Slot(str)
    def open_settings(self, page: str = "") -> SettingsDialog:
        """Open (or raise) the settings dialog at ``page``."""
        if self.settings_dialog is None or not self.settings_dialog.isVisible():
            self.settings_dialog = SettingsDialog(self.bridge, page, self.window)
        else:
            self.settings_dialog.show_page(page)
        self.settings_dialog.show()
        self.settings_dialog.raise_()
        return self.settings_dialog

    @Slot(object)
    def _on_bridge_state_changed(self, event: SessionStateChanged) -> None:
        self.tray.set_state(event.state)
        self.tray.set_interrupt_enabled(event.state in INTERRUPTIBLE)

    @Slot(bool)
    def _on_tray_talk_toggled(self, talking: bool) -> None:
        self.window.ptt_button.hold(talking)

    @Slot()
    def quit(self) -> None:
        """Stop the GUI parts and leave the event loop (the runtime stops the core after)."""
        self.shutdown()
        self.sig_quit_requested.emit()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def shutdown(self) -> None:
        """Stop hotkeys, timers and subscriptions; idempotent."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.hotkeys.stop()
        self.window.shutdown()
