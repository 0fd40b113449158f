"""The Hotkeys page: global push-to-talk and interrupt keys, captured by pressing them."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from app.settings.schema import Setting
from ui.bridge import Bridge
from ui.settings.draft import Draft
from ui.settings.fields import FieldEditor
from ui.settings.page import SettingsPage

_SPECIAL: dict[Qt.Key, str] = {
    Qt.Key.Key_Space: "space",
    Qt.Key.Key_Pause: "pause",
    Qt.Key.Key_Insert: "insert",
    Qt.Key.Key_ScrollLock: "scroll_lock",
    Qt.Key.Key_Home: "home",
    Qt.Key.Key_End: "end",
    Qt.Key.Key_PageUp: "page_up",
    Qt.Key.Key_PageDown: "page_down",
    Qt.Key.Key_Menu: "menu",
    Qt.Key.Key_Print: "print_screen",
    Qt.Key.Key_Tab: "tab",
    Qt.Key.Key_Return: "enter",
    Qt.Key.Key_Enter: "enter",
    Qt.Key.Key_Delete: "delete",
    Qt.Key.Key_Backspace: "backspace",
}
_MODIFIER_KEYS = {
    Qt.Key.Key_Control,
    Qt.Key.Key_Shift,
    Qt.Key.Key_Alt,
    Qt.Key.Key_Meta,
    Qt.Key.Key_AltGr,
    Qt.Key.Key_Super_L,
    Qt.Key.Key_Super_R,
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("HotkeysPage", text)


def key_name(key: Qt.Key, modifiers: Qt.KeyboardModifier) -> str | None:
    """The hotkey spelling (``F9``, ``ctrl+shift+space``) of a key press, or None if unusable."""
    if key in _MODIFIER_KEYS:
        return None
    if Qt.Key.Key_F1 <= key <= Qt.Key.Key_F35:
        base = f"F{int(key) - int(Qt.Key.Key_F1) + 1}"
    elif Qt.Key.Key_A <= key <= Qt.Key.Key_Z or Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
        base = chr(int(key)).lower()
    elif key in _SPECIAL:
        base = _SPECIAL[key]
    else:
        return None
    parts = [
        name
        for flag, name in (
            (Qt.KeyboardModifier.ControlModifier, "ctrl"),
            (Qt.KeyboardModifier.AltModifier, "alt"),
            (Qt.KeyboardModifier.ShiftModifier, "shift"),
            (Qt.KeyboardModifier.MetaModifier, "super"),
        )
        if modifiers & flag
    ]
    return "+".join([*parts, base])


class KeyCaptureEdit(QLineEdit):
    """Shows a hotkey; with focus, the next key (with modifiers) pressed becomes the hotkey.

    Esc cancels (and leaves focus); Tab still moves focus, so the page stays keyboard-usable.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setPlaceholderText(_tr("Press a key…"))

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: D102 - Qt override
        super().focusInEvent(event)
        self.setStyleSheet("background: #fef3c7")
        self.setToolTip(_tr("Press the key (or combination) to use; Esc to cancel."))

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: D102 - Qt override
        super().focusOutEvent(event)
        self.setStyleSheet("")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: D102 - Qt override
        key = Qt.Key(event.key())
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and not event.modifiers():
            super().keyPressEvent(event)
            return
        if key == Qt.Key.Key_Escape:
            self.clearFocus()
            return
        name = key_name(key, event.modifiers())
        if name is not None and name != self.text():
            self.setText(name)
            self.textEdited.emit(name)


class HotkeysPage(SettingsPage):
    """Global hotkeys, plus which backend delivers them on this desktop. Thread: GUI."""

    page_id = "hotkey"

    def __init__(self, draft: Draft, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("hotkey", draft, bridge, parent)

    def custom_editor(self, setting: Setting, parent: QWidget) -> FieldEditor | None:
        """Key settings are captured by pressing the key."""
        if setting.type is str:
            return FieldEditor(setting, KeyCaptureEdit(parent), parent)
        return None

    def add_extras(self, layout: QVBoxLayout) -> None:
        """Say which global-hotkey backend is active (or why there is none)."""
        status = getattr(self.bridge, "hotkey_status", "")
        self.backend_label = QLabel(status or _tr("Global hotkeys are not running."), self)
        self.backend_label.setWordWrap(True)
        self.backend_label.setAccessibleName(_tr("Global hotkey status"))
        layout.addWidget(self.backend_label)
        hint = QLabel(
            _tr("In the VoxDesk window, holding Space always works as push to talk."), self
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
