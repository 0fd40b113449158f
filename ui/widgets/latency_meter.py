"""The latency meter: per segment last value, rolling P50/P95/P99, a sparkline, colour by threshold.

It reads ``core.latency()`` snapshots (``app.metrics.latency.LatencySnapshot``) from the main
window's ~30 Hz timer; nothing here is driven by per-frame signals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QPoint, QPointF, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QFocusEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QToolTip, QWidget


def _tr(text: str) -> str:
    return QCoreApplication.translate("LatencyMeter", text)


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """How one segment is shown: label and thresholds in milliseconds (good below, bad above)."""

    key: str
    label: str
    good_ms: float
    bad_ms: float


SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec("mic_to_uplink", "Mic → uplink", 60, 150),
    SegmentSpec("speech_end_to_first_audio", "End of speech → first audio", 700, 1500),
    SegmentSpec("first_audio_to_speaker", "First audio → speaker", 80, 200),
    SegmentSpec("voice_to_voice", "Voice to voice", 800, 1600),
    SegmentSpec("bargein_to_silence", "Barge-in → silence", 100, 250),
)


@dataclass(frozen=True, slots=True)
class SegmentView:
    """The numbers shown for one segment (milliseconds; None when not measured yet)."""

    key: str
    last: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    count: int
    recent: tuple[float, ...]


def colour_for(value: float | None, spec: SegmentSpec) -> str:
    """The colour of ``value`` against the segment's thresholds (grey when unknown)."""
    if value is None or not math.isfinite(value):
        return "#6b7280"
    if value <= spec.good_ms:
        return "#15803d"
    if value <= spec.bad_ms:
        return "#b45309"
    return "#b91c1c"


def format_ms(value: float | None) -> str:
    """``"123 ms"``, ``"1.23 s"`` or an en dash when unknown."""
    if value is None or not math.isfinite(value):
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


class Sparkline(QWidget):
    """A tiny line chart of recent values with the good/bad thresholds as faint guides."""

    def __init__(self, spec: SegmentSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec = spec
        self._values: tuple[float, ...] = ()
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: D102 - Qt override
        return QSize(110, 22)

    def set_values(self, values: Sequence[float]) -> None:
        """Show these values (oldest first)."""
        new = tuple(v for v in values if math.isfinite(v))[-60:]
        if new != self._values:
            self._values = new
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102 - Qt override
        if len(self._values) < 2:
            return  # a trend needs two points
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width() - 2, self.height() - 4
        top = max(max(self._values), self._spec.bad_ms * 1.1)
        painter.setPen(QPen(QColor("#e5e7eb"), 1, Qt.PenStyle.DashLine))
        for guide in (self._spec.good_ms, self._spec.bad_ms):
            y = 2 + h - h * guide / top
            painter.drawLine(QPointF(1, y), QPointF(1 + w, y))
        n = len(self._values)
        step = w / max(1, n - 1)
        pts = [QPointF(1 + i * step, 2 + h - h * v / top) for i, v in enumerate(self._values)]
        painter.setPen(QPen(QColor(colour_for(self._values[-1], self._spec)), 1.5))
        painter.drawPolyline(QPolygonF(pts))


class LatencyMeter(QWidget):
    """A table of latency segments: last, P50, P95, P99, count and a sparkline.

    Reachable with Tab: focus shows the per-turn breakdown (the hover tooltip) and the
    accessible description reads every segment's summary and the breakdown.

    Thread: GUI. Call :meth:`set_snapshot` from a timer.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(_tr("Latency meter"))
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._tip = ""
        self.setAccessibleDescription(_tr("No turns measured yet."))
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        for col, head in enumerate(("Segment", "Last", "P50", "P95", "P99", "n", "Trend")):
            label = QLabel(f"<b>{_tr(head)}</b>", self)
            label.setAlignment(
                Qt.AlignmentFlag.AlignRight if 0 < col < 6 else Qt.AlignmentFlag.AlignLeft
            )
            grid.addWidget(label, 0, col)
        self._cells: dict[str, list[QLabel]] = {}
        self._sparks: dict[str, Sparkline] = {}
        self._rows: dict[str, SegmentView] = {}
        for row, spec in enumerate(SEGMENTS, start=1):
            cells = [QLabel(_tr(spec.label), self)]
            cells += [QLabel("–", self) for _ in range(5)]
            for col, cell in enumerate(cells):
                if col:
                    cell.setAlignment(Qt.AlignmentFlag.AlignRight)
                grid.addWidget(cell, row, col)
            spark = Sparkline(spec, self)
            grid.addWidget(spark, row, 6)
            self._cells[spec.key] = cells
            self._sparks[spec.key] = spark
        grid.setColumnStretch(6, 1)

    def row(self, key: str) -> SegmentView | None:
        """The numbers last shown for segment ``key``."""
        return self._rows.get(key)

    def cell_text(self, key: str, column: int) -> str:
        """The text in a row's column (0 label, 1 last, 2 P50, 3 P95, 4 P99, 5 count)."""
        return self._cells[key][column].text()

    @property
    def breakdown(self) -> str:
        """The per-turn breakdown shown on hover and on keyboard focus (rich text)."""
        return self._tip

    def set_snapshot(self, snapshot: object) -> None:
        """Show a ``LatencySnapshot`` (anything :func:`read_snapshot` understands)."""
        views, turns = read_snapshot(snapshot)
        tip = _breakdown_tooltip(turns)
        if views == self._rows and tip == self._tip:
            return  # polled at ~30 Hz: restyle and relayout only when a figure changed
        self._tip = tip
        summaries: list[str] = []
        for spec in SEGMENTS:
            view = views.get(spec.key)
            if view is None:
                continue
            self._rows[spec.key] = view
            cells = self._cells[spec.key]
            values = (view.last, view.p50, view.p95, view.p99)
            for col, value in enumerate(values, start=1):
                cells[col].setText(format_ms(value))
                cells[col].setStyleSheet(f"color: {colour_for(value, spec)}")
            cells[5].setText(str(view.count))
            self._sparks[spec.key].set_values(view.recent)
            summary = _tr("%1: last %2, median %3, 95th percentile %4")
            for i, arg in enumerate(
                (_tr(spec.label), format_ms(view.last), format_ms(view.p50), format_ms(view.p95)),
                start=1,
            ):
                summary = summary.replace(f"%{i}", arg)
            for cell in cells:
                cell.setToolTip(tip or summary)
                cell.setAccessibleDescription(summary)
            self._sparks[spec.key].setToolTip(tip or summary)
            summaries.append(summary)
        plain = tip.replace("<br/>", ". ").replace("<b>", "").replace("</b>", "")
        self.setAccessibleDescription(". ".join([*summaries, plain] if plain else summaries))
        self.setToolTip(tip)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: D102 - Qt override
        super().focusInEvent(event)
        self.update()
        # Qt hides tooltips on every focus event, so show it once focus has settled.
        QTimer.singleShot(0, self, self._show_breakdown)

    @Slot()
    def _show_breakdown(self) -> None:
        if self.hasFocus() and self._tip:  # what a mouse user gets by hovering
            QToolTip.showText(self.mapToGlobal(QPoint(0, self.height())), self._tip, self)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: D102 - Qt override
        super().focusOutEvent(event)
        QToolTip.hideText()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: D102 - Qt override
        super().paintEvent(event)
        if self.hasFocus():  # plain QWidgets draw no focus indicator of their own
            painter = QPainter(self)
            painter.setPen(QPen(QColor("#f59e0b"), 2))
            painter.drawRect(self.rect().adjusted(1, 1, -1, -1))


def read_snapshot(snapshot: object) -> tuple[dict[str, SegmentView], list[dict[str, float]]]:
    """Read a latency snapshot into segment views (ms) and per-turn breakdowns (ms).

    Reads ``app.metrics.latency.LatencySnapshot``: ``segments`` as ``SegmentStats`` (each with
    ``segment.key``, ``last``, ``p50``, ``p95``, ``p99``, ``count``, ``recent``; a mapping of key
    to stats is accepted too) and ``turns`` as ``TurnLatency`` objects (``values``: segment key
    to milliseconds) or plain mappings.
    """
    views: dict[str, SegmentView] = {}
    segments = getattr(snapshot, "segments", None) or ()
    items: Iterable[tuple[str, object]]
    if hasattr(segments, "items"):
        items = segments.items()
    else:
        items = ((_segment_key(stats), stats) for stats in segments)
    for key, stats in items:
        recent = (_ms(x) for x in getattr(stats, "recent", ()) or ())
        views[str(key)] = SegmentView(
            key=str(key),
            last=_ms(getattr(stats, "last", None)),
            p50=_ms(getattr(stats, "p50", None)),
            p95=_ms(getattr(stats, "p95", None)),
            p99=_ms(getattr(stats, "p99", None)),
            count=int(getattr(stats, "count", 0) or 0),
            recent=tuple(v for v in recent if v is not None),
        )
    turns: list[dict[str, float]] = []
    for turn in getattr(snapshot, "turns", ()) or ():
        raw = turn if isinstance(turn, dict) else getattr(turn, "values", {})
        turns.append({str(k): v for k, v in ((k, _ms(v)) for k, v in raw.items()) if v is not None})
    return views, turns


def _segment_key(stats: object) -> str:
    segment = getattr(stats, "segment", None)
    return str(getattr(segment, "key", None) or getattr(stats, "key", None) or segment)


def _ms(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _breakdown_tooltip(turns: list[dict[str, float]]) -> str:
    if not turns:
        return ""
    labels = {s.key: _tr(s.label) for s in SEGMENTS}
    lines = [f"<b>{_tr('Recent turns')}</b>"]
    for n, turn in enumerate(turns[-5:], start=1):
        parts = ", ".join(f"{labels.get(k, k)} {format_ms(v)}" for k, v in turn.items())
        lines.append(f"{_tr('Turn')} {n}: {parts}")
    return "<br/>".join(lines)
