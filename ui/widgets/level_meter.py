"""A horizontal level meter in dBFS, fed by the GUI's telemetry timer."""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0


def _tr(text: str) -> str:
    return QCoreApplication.translate("LevelMeter", text)


class LevelMeter(QWidget):
    """Shows an RMS level (bar) and peak (tick) in dBFS between -60 and 0.

    Thread: GUI. Updated by polling (``set_level``), never by per-block signals.
    """

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._label = label
        self._rms_db = FLOOR_DB
        self._peak_db = FLOOR_DB
        self._active = True
        self.setAccessibleName(label)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QSize:  # noqa: D102 - Qt override
        return QSize(160, 18)

    @property
    def level_db(self) -> float:
        """The RMS level shown, in dBFS."""
        return self._rms_db

    def set_level(self, rms_db: float | None, peak_db: float | None = None) -> None:
        """Show a level; ``None`` or a non-finite value means silence / no data."""
        self._active = rms_db is not None
        self._rms_db = _clamp(rms_db)
        self._peak_db = max(self._rms_db, _clamp(peak_db))
        text = _tr("%1: %2 dB").replace("%1", self._label).replace("%2", f"{self._rms_db:.0f}")
        self.setAccessibleDescription(text)
        self.setToolTip(text)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QColor("#d1d5db"))
        painter.setBrush(QColor("#f3f4f6"))
        painter.drawRoundedRect(rect, 4, 4)
        if not self._active:
            return
        frac = (self._rms_db - FLOOR_DB) / -FLOOR_DB
        colour = "#16a34a" if self._rms_db < -12 else "#f59e0b" if self._rms_db < -3 else "#dc2626"
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawRoundedRect(
            QRectF(rect.x(), rect.y(), rect.width() * frac, rect.height()), 4, 4
        )
        if self._peak_db <= FLOOR_DB + 1:
            return
        peak_x = rect.x() + rect.width() * (self._peak_db - FLOOR_DB) / -FLOOR_DB
        painter.setPen(QColor("#111827"))
        painter.drawLine(int(peak_x), int(rect.top()) + 2, int(peak_x), int(rect.bottom()) - 2)


def _clamp(db: float | None) -> float:
    if db is None or not math.isfinite(db):
        return FLOOR_DB
    return min(0.0, max(FLOOR_DB, float(db)))
