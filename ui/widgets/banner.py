"""A persistent banner for notices that need the user to act (e.g. a rejected API key)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.events import NoticeLevel, UserNotice

# action id -> button text; unknown actions get a generic button.
_ACTION_LABELS: dict[str, str] = {
    "open_settings": "Open settings",
    "open_keys": "Enter API key",
    "open_audio_settings": "Audio settings",
    "retry": "Retry",
    "reconnect": "Reconnect",
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("Banner", text)


def action_label(action: str) -> str:
    """The translated button text for a notice action id."""
    return _tr(_ACTION_LABELS.get(action, "Fix…"))


class Banner(QFrame):
    """Shows one actionable notice with its action button and a dismiss button.

    Thread: GUI.

    Signals:
        sig_action_requested(str): the user pressed the action button (the notice's action id).
    """

    sig_action_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAccessibleName(_tr("Problem that needs your attention"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        self._text = QLabel(self)
        self._text.setWordWrap(True)
        self._action = QPushButton(self)
        self._dismiss = QPushButton(_tr("Dismiss"), self)
        self._dismiss.setAccessibleName(_tr("Dismiss this message"))
        layout.addWidget(self._text, 1)
        layout.addWidget(self._action)
        layout.addWidget(self._dismiss)
        self._notice: UserNotice | None = None
        self._action.clicked.connect(self._on_action_clicked)
        self._dismiss.clicked.connect(self.dismiss)
        self.hide()

    @property
    def notice(self) -> UserNotice | None:
        """The notice shown, or None when hidden."""
        return self._notice

    @property
    def action_button(self) -> QPushButton:
        """The action button (for keyboard focus and tests)."""
        return self._action

    @property
    def text(self) -> str:
        """The message shown."""
        return self._text.text()

    def show_notice(self, notice: UserNotice) -> None:
        """Show ``notice`` (replacing any previous one)."""
        self._notice = notice
        self._text.setText(notice.text)
        self._text.setAccessibleName(notice.text)
        colour = "#fee2e2" if notice.level is NoticeLevel.ERROR else "#fef3c7"
        border = "#dc2626" if notice.level is NoticeLevel.ERROR else "#d97706"
        self.setStyleSheet(
            f"QFrame#banner {{ background: {colour}; border: 1px solid {border};"
            " border-radius: 6px; } QLabel { color: #111827; }"
        )
        self._action.setVisible(notice.action is not None)
        if notice.action is not None:
            self._action.setText(action_label(notice.action))
            self._action.setAccessibleName(action_label(notice.action))
        self.show()

    @Slot()
    def dismiss(self) -> None:
        """Hide the banner."""
        self._notice = None
        self.hide()

    @Slot()
    def _on_action_clicked(self) -> None:
        if self._notice is not None and self._notice.action is not None:
            action = self._notice.action
            self.dismiss()
            self.sig_action_requested.emit(action)
