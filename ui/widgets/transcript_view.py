"""The conversation transcript: streaming lines, interrupted turns, inline tool calls, export."""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QTimer, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QTextBrowser, QWidget

from app.events import ToolCallUpdated, ToolStatus, TranscriptLine


def _tr(text: str) -> str:
    return QCoreApplication.translate("TranscriptView", text)


@dataclass(slots=True)
class _Entry:
    """One row: a transcript line or a tool call, with when it was first seen."""

    order: float
    seen: dt.datetime
    line: TranscriptLine | None = None
    tool: ToolCallUpdated | None = None


_TOOL_STATUS = {
    ToolStatus.RUNNING: ("running…", "#0d9488"),
    ToolStatus.DONE: ("done", "#16a34a"),
    ToolStatus.CANCELLED: ("cancelled", "#6b7280"),
    ToolStatus.FAILED: ("failed", "#dc2626"),
}


class TranscriptModel:
    """The ordered transcript: lines replaced by ``item_id``, tool calls by ``call_id``.

    Lines are ordered by when their speech started (``TranscriptLine.started_at``, monotonic);
    tool calls by when they were first seen. Thread: GUI.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def update_line(self, line: TranscriptLine) -> None:
        """Insert or replace the line with ``line.item_id``."""
        entry = self._entries.get("i:" + line.item_id)
        if entry is None:
            self._entries["i:" + line.item_id] = _Entry(line.started_at, _now(), line=line)
        else:
            entry.line = line

    def update_tool(self, call: ToolCallUpdated) -> None:
        """Insert or replace the tool call with ``call.call_id``."""
        entry = self._entries.get("t:" + call.call_id)
        if entry is None:
            self._entries["t:" + call.call_id] = _Entry(time.monotonic(), _now(), tool=call)
        else:
            entry.tool = call

    def entries(self) -> list[_Entry]:
        """All rows in display order."""
        return sorted(self._entries.values(), key=lambda e: e.order)

    def clear(self) -> None:
        """Forget every row."""
        self._entries.clear()

    def to_markdown(self) -> str:
        """The transcript as Markdown (cut text of interrupted turns struck through)."""
        out = ["# VoxDesk conversation", ""]
        for e in self.entries():
            stamp = e.seen.strftime("%H:%M:%S")
            if e.line is not None:
                who = "You" if e.line.role == "user" else "Assistant"
                text = e.line.text
                if e.line.interrupted:
                    cut = f" ~~{e.line.unheard.strip()}~~" if e.line.unheard.strip() else ""
                    text = f"{text}{cut} *(interrupted)*"
                out.append(f"**{who}** ({stamp}): {text}")
            elif e.tool is not None:
                out.append(f"> tool `{e.tool.name}` — {e.tool.status.value} ({stamp})")
            out.append("")
        return "\n".join(out)

    def to_json(self) -> str:
        """The transcript as a JSON document (one object per row)."""
        rows: list[dict[str, object]] = []
        for e in self.entries():
            if e.line is not None:
                rows.append(
                    {
                        "type": "line",
                        "item_id": e.line.item_id,
                        "role": e.line.role,
                        "text": e.line.text,
                        "unheard": e.line.unheard,
                        "interrupted": e.line.interrupted,
                        "final": e.line.final,
                        "time": e.seen.isoformat(timespec="seconds"),
                    }
                )
            elif e.tool is not None:
                rows.append(
                    {
                        "type": "tool_call",
                        "call_id": e.tool.call_id,
                        "name": e.tool.name,
                        "status": e.tool.status.value,
                        "arguments": e.tool.arguments,
                        "result": e.tool.result,
                        "time": e.seen.isoformat(timespec="seconds"),
                    }
                )
        return json.dumps({"transcript": rows}, indent=2, ensure_ascii=False)


class TranscriptView(QTextBrowser):
    """Renders a :class:`TranscriptModel`; repaints are coalesced to one per event-loop turn.

    Thread: GUI.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TranscriptModel()
        self.setAccessibleName(_tr("Conversation transcript"))
        self.setOpenLinks(False)
        self.setPlaceholderText(_tr("Hold the talk button or just type below to start."))
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self.render_now)

    @Slot(object)
    def show_line(self, line: TranscriptLine) -> None:
        """Add or update a transcript line (partial text replaces the line in place)."""
        self.model.update_line(line)
        self._render_timer.start()

    @Slot(object)
    def show_tool_call(self, call: ToolCallUpdated) -> None:
        """Add or update an inline tool call."""
        self.model.update_tool(call)
        self._render_timer.start()

    @Slot()
    def copy_all(self) -> None:
        """Copy the whole transcript to the clipboard as Markdown."""
        QGuiApplication.clipboard().setText(self.model.to_markdown())

    @Slot()
    def render_now(self) -> None:
        """Rebuild the document, keeping the view at the bottom if it was there."""
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self.setHtml(_render(self.model.entries()))
        if at_bottom:
            bar.setValue(bar.maximum())


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def _render(entries: list[_Entry]) -> str:
    parts = ["<html><body style='font-size: 11pt;'>"]
    for e in entries:
        stamp = f"<span style='color:#9ca3af;font-size:9pt'>{e.seen:%H:%M:%S}</span>"
        if e.line is not None:
            parts.append(_render_line(e.line, stamp))
        elif e.tool is not None:
            parts.append(_render_tool(e.tool, stamp))
    parts.append("</body></html>")
    return "".join(parts)


def _render_line(line: TranscriptLine, stamp: str) -> str:
    user = line.role == "user"
    who = _tr("You") if user else _tr("Assistant")
    colour = "#1d4ed8" if user else "#b45309"
    text = html.escape(line.text)
    if not line.final and not line.interrupted:
        text += " <span style='color:#9ca3af'>…</span>"
    if line.interrupted:
        if line.unheard.strip():
            text += (
                " <span style='color:#9ca3af;text-decoration:line-through'>"
                f"{html.escape(line.unheard.strip())}</span>"
            )
        text += f" <span style='color:#dc2626;font-size:9pt'>■ {_tr('interrupted')}</span>"
    return (
        f"<p style='margin:6px 0'>{stamp}&nbsp;&nbsp;<b style='color:{colour}'>{who}</b><br/>"
        f"{text}</p>"
    )


def _render_tool(call: ToolCallUpdated, stamp: str) -> str:
    status, colour = _TOOL_STATUS[call.status]
    detail = ""
    if call.result and call.status is ToolStatus.DONE:
        detail = f" → {html.escape(call.result[:120])}"
    return (
        f"<p style='margin:2px 0 2px 24px;color:#374151;font-size:10pt'>{stamp}&nbsp;&nbsp;"
        f"⚙ <code>{html.escape(call.name)}</code> "
        f"<span style='color:{colour}'>{_tr(status)}</span>{detail}</p>"
    )
