"""A badge that says plainly what the assistant is doing (the state machine's public face)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QWidget

from app.events import AssistantState


def _tr(text: str) -> str:
    return QCoreApplication.translate("StateBadge", text)


# (text, background colour) per state; colours are chosen to stay readable with white text.
_LOOK: dict[AssistantState, tuple[str, str]] = {
    AssistantState.DISCONNECTED: ("Offline", "#6b7280"),
    AssistantState.CONNECTING: ("Connecting…", "#6b7280"),
    AssistantState.LISTENING: ("Listening", "#2563eb"),
    AssistantState.USER_SPEAKING: ("You're speaking", "#059669"),
    AssistantState.THINKING: ("Thinking", "#7c3aed"),
    AssistantState.ASSISTANT_SPEAKING: ("Speaking", "#d97706"),
    AssistantState.INTERRUPTING: ("Interrupted", "#dc2626"),
    AssistantState.TOOL_RUNNING: ("Running a tool", "#0d9488"),
    AssistantState.RECONNECTING: ("Reconnecting…", "#b45309"),
    AssistantState.FAILED: ("Not connected", "#991b1b"),
}


def state_text(state: AssistantState) -> str:
    """The translated, user-facing word for ``state``."""
    return _tr(_LOOK[state][0])


class StateBadge(QLabel):
    """A coloured label showing the current :class:`AssistantState`.

    Thread: GUI.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(150)
        self.setAccessibleName(_tr("Assistant state"))
        self._state = AssistantState.DISCONNECTED
        self.set_state(AssistantState.DISCONNECTED, "")

    @property
    def state(self) -> AssistantState:
        """The state shown."""
        return self._state

    def set_state(self, state: AssistantState, reason: str) -> None:
        """Show ``state``; ``reason`` becomes the tooltip."""
        self._state = state
        text, colour = _LOOK[state]
        self.setText(_tr(text))
        self.setStyleSheet(
            f"QLabel {{ background: {colour}; color: white; border-radius: 12px;"
            " padding: 4px 14px; font-weight: 600; }"
        )
        self.setToolTip(reason)
        self.setAccessibleDescription(_tr(text))
