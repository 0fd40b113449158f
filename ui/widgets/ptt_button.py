"""The large press-and-hold push-to-talk button."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget


def _tr(text: str) -> str:
    return QCoreApplication.translate("PttButton", text)


class PttButton(QPushButton):
    """Press and hold to talk; also driven by Space and the global hotkey through :meth:`hold`.

    Auto-repeat never produces a second press: the button emits ``sig_talk_started`` once per
    hold and ``sig_talk_stopped`` once per release, whichever input drove it.

    Thread: GUI.

    Signals:
        sig_talk_started(): the user started holding to talk.
        sig_talk_stopped(): the user let go.
    """

    sig_talk_started = Signal()
    sig_talk_stopped = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_tr("Hold to talk"), parent)
        self.setAccessibleName(_tr("Push to talk"))
        self.setAccessibleDescription(_tr("Hold this button, or the Space key, while you speak."))
        self.setToolTip(_tr("Hold while you speak (or hold Space)"))
        self.setMinimumSize(QSize(220, 64))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.setFont(font)
        self._talking = False
        self.pressed.connect(self._on_self_pressed)
        self.released.connect(self._on_self_released)
        self._restyle()

    @property
    def talking(self) -> bool:
        """Whether a hold is in progress."""
        return self._talking

    def hold(self, down: bool) -> None:
        """Start or end a hold from another input (Space on the window, a hotkey, the tray)."""
        if down:
            self._start()
        else:
            self._stop()

    @Slot()
    def _on_self_pressed(self) -> None:
        self._start()

    @Slot()
    def _on_self_released(self) -> None:
        self._stop()

    def _start(self) -> None:
        if self._talking or not self.isEnabled():
            return
        self._talking = True
        self.setText(_tr("Listening… release to send"))
        self._restyle()
        self.sig_talk_started.emit()

    def _stop(self) -> None:
        if not self._talking:
            return
        self._talking = False
        self.setText(_tr("Hold to talk"))
        self._restyle()
        self.sig_talk_stopped.emit()

    def changeEvent(self, event: QEvent) -> None:  # noqa: D102 - Qt override
        super().changeEvent(event)
        if not self.isEnabled() and self._talking:
            self._stop()

    def _restyle(self) -> None:
        colour = "#059669" if self._talking else "#2563eb"
        self.setStyleSheet(
            f"QPushButton {{ background: {colour}; color: white; border-radius: 10px;"
            " padding: 8px 20px; }"
            " QPushButton:disabled { background: #9ca3af; color: #f3f4f6; }"
            " QPushButton:focus { border: 3px solid #f59e0b; }"
        )
