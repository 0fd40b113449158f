"""The large press-and-hold push-to-talk button."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget

#: How long a Space release waits for the press that would make it half of an X auto-repeat
#: pair. X11 repeats a held key as release + press with one timestamp; Qt marks the pair
#: auto-repeat only when both are already queued, and under load it sees them apart (measured
#: under Xvfb with the CPU saturated: about one hold in three), which would end the turn
#: mid-sentence and start a new one. Nobody lifts and presses a key again in 30 ms. The
#: release still dates the end of speech to when the key went up.
KEY_RELEASE_GRACE_MS = 30


def _tr(text: str) -> str:
    return QCoreApplication.translate("PttButton", text)


class PttButton(QPushButton):
    """Press and hold to talk; also driven by Space (:meth:`key`) and the tray (:meth:`hold`).

    Auto-repeat never produces a second press: the button emits ``sig_talk_started`` once per
    hold and ``sig_talk_stopped`` once per release, whichever input drove it. Space (on the
    button or, through :meth:`key`, on the window) also survives an auto-repeat pair that Qt
    failed to mark (see :data:`KEY_RELEASE_GRACE_MS`).

    Thread: GUI.

    Signals:
        sig_talk_started(): the user started holding to talk.
        sig_talk_stopped(float): the user let go, at this ``time.monotonic()``.
    """

    sig_talk_started = Signal()
    sig_talk_stopped = Signal(float)

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
        self._key_released_at = 0.0
        self._key_release = QTimer(self)
        self._key_release.setSingleShot(True)
        self._key_release.setInterval(KEY_RELEASE_GRACE_MS)
        self._key_release.timeout.connect(self._on_key_release_timeout)
        self.pressed.connect(self._on_self_pressed)
        self.released.connect(self._on_self_released)
        self._restyle()

    @property
    def talking(self) -> bool:
        """Whether a hold is in progress."""
        return self._talking

    def hold(self, down: bool) -> None:
        """Start or end a hold from another input (a hotkey, the tray menu)."""
        if down:
            self._start()
        else:
            self._stop(time.monotonic())

    def key(self, down: bool) -> None:
        """A Space press or release that Qt did not mark auto-repeat (on the button or window).

        A release is acted on :data:`KEY_RELEASE_GRACE_MS` later, dated to now; a press in
        between is the other half of an auto-repeat pair and cancels it.
        """
        if down:
            if self._key_release.isActive():
                self._key_release.stop()
                return
            self._start()
        elif self._talking:
            self._key_released_at = time.monotonic()
            self._key_release.start()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: D102 - Qt override
        if not self._space(event, True):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: D102 - Qt override
        if not self._space(event, False):
            super().keyReleaseEvent(event)

    def _space(self, event: QKeyEvent, down: bool) -> bool:
        """Take a plain Space press/release as push-to-talk; False for any other key."""
        if event.key() != Qt.Key.Key_Space or event.modifiers():
            return False
        if not event.isAutoRepeat():
            self.key(down)
        event.accept()
        return True

    @Slot()
    def _on_key_release_timeout(self) -> None:
        self._stop(self._key_released_at)

    @Slot()
    def _on_self_pressed(self) -> None:
        self._start()

    @Slot()
    def _on_self_released(self) -> None:
        self._stop(time.monotonic())

    def _start(self) -> None:
        self._key_release.stop()
        if self._talking or not self.isEnabled():
            return
        self._talking = True
        self.setText(_tr("Listening… release to send"))
        self._restyle()
        self.sig_talk_started.emit()

    def _stop(self, at: float) -> None:
        self._key_release.stop()
        if not self._talking:
            return
        self._talking = False
        self.setText(_tr("Hold to talk"))
        self._restyle()
        self.sig_talk_stopped.emit(at)

    def changeEvent(self, event: QEvent) -> None:  # noqa: D102 - Qt override
        super().changeEvent(event)
        if not self.isEnabled() and self._talking:
            self._stop(time.monotonic())

    def _restyle(self) -> None:
        colour = "#059669" if self._talking else "#2563eb"
        self.setStyleSheet(
            f"QPushButton {{ background: {colour}; color: white; border-radius: 10px;"
            " padding: 8px 20px; }"
            " QPushButton:disabled { background: #9ca3af; color: #f3f4f6; }"
            " QPushButton:focus { border: 3px solid #f59e0b; }"
        )
