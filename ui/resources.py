"""The single way ``ui/`` loads files from ``resources/`` (icons, the .desktop entry)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from app.events import AssistantState

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"

_STATE_COLOUR: dict[AssistantState, str] = {
    AssistantState.DISCONNECTED: "#6b7280",
    AssistantState.CONNECTING: "#6b7280",
    AssistantState.LISTENING: "#2563eb",
    AssistantState.USER_SPEAKING: "#059669",
    AssistantState.THINKING: "#7c3aed",
    AssistantState.ASSISTANT_SPEAKING: "#d97706",
    AssistantState.INTERRUPTING: "#dc2626",
    AssistantState.TOOL_RUNNING: "#0d9488",
    AssistantState.RECONNECTING: "#b45309",
    AssistantState.FAILED: "#991b1b",
}


def resource_path(*parts: str) -> Path:
    """The path of a file under ``resources/``."""
    return RESOURCES_DIR.joinpath(*parts)


@cache
def app_icon() -> QIcon:
    """The VoxDesk icon (SVG plus PNG sizes); the theme's ``voxdesk`` icon when installed."""
    icon = QIcon()
    for size in (48, 128, 256):
        png = resource_path("icons", f"voxdesk-{size}.png")
        if png.exists():
            icon.addFile(str(png))
    svg = resource_path("icons", "voxdesk.svg")
    if svg.exists():
        icon.addFile(str(svg))
    return QIcon.fromTheme("voxdesk", icon)


@cache
def state_icon(state: AssistantState) -> QIcon:
    """The app icon with a dot in the state's colour (for the tray)."""
    size = 64
    pixmap = app_icon().pixmap(size, size)
    if pixmap.isNull():
        pixmap = QPixmap(size, size)
        pixmap.fill(QColor("#2563eb"))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("white"), 3))
    painter.setBrush(QColor(_STATE_COLOUR[state]))
    painter.drawEllipse(QRectF(size * 0.56, size * 0.56, size * 0.4, size * 0.4))
    painter.end()
    icon = QIcon()
    icon.addPixmap(pixmap)
    return icon


def state_colour(state: AssistantState) -> QColor:
    """The colour used for ``state``."""
    return QColor(_STATE_COLOUR[state])


__all__ = ["RESOURCES_DIR", "app_icon", "resource_path", "state_colour", "state_icon"]
