"""Transcript rendering: streaming partials, interrupted turns, tool calls, ordering, export."""

from __future__ import annotations

import json

import pytest

from app.events import ToolCallUpdated, ToolStatus, TranscriptLine
from ui.widgets.transcript_view import TranscriptView

pytestmark = pytest.mark.gui


@pytest.fixture
def view(qtbot):
    v = TranscriptView()
    qtbot.addWidget(v)
    return v


def test_partial_text_is_replaced_in_place_by_the_final_line(view):
    view.show_line(TranscriptLine("u1", "user", "what is the", False, 1.0))
    view.render_now()
    assert "what is the" in view.toPlainText()
    assert "…" in view.toPlainText()
    view.show_line(TranscriptLine("u1", "user", "what is the time", True, 1.0))
    view.render_now()
    text = view.toPlainText()
    assert text.count("what is the") == 1
    assert "what is the time" in text
    assert "…" not in text


def test_interrupted_turn_shows_heard_text_and_greys_out_the_cut_part(view):
    view.show_line(
        TranscriptLine(
            "a1",
            "assistant",
            "The weather today is",
            True,
            2.0,
            unheard="sunny with light winds.",
            interrupted=True,
        )
    )
    view.render_now()
    assert "The weather today is" in view.toPlainText()
    assert "sunny with light winds." in view.toPlainText()
    assert "interrupted" in view.toPlainText()
    html = view.toHtml()
    heard = html.index("The weather today is")
    cut = html.index("sunny with light winds.")
    assert heard < cut
    span_start = html.rfind("<span", 0, cut)
    assert "line-through" in html[span_start:cut]
    assert "#9ca3af" in html[span_start:cut]


def test_lines_are_ordered_by_when_speech_started(view):
    view.show_line(TranscriptLine("a1", "assistant", "second", True, 5.0))
    view.show_line(TranscriptLine("u1", "user", "first", True, 3.0))
    view.render_now()
    text = view.toPlainText()
    assert text.index("first") < text.index("second")


def test_tool_calls_are_shown_inline_with_their_status(view):
    view.show_tool_call(ToolCallUpdated("c1", "get_time", ToolStatus.RUNNING))
    view.render_now()
    assert "get_time" in view.toPlainText()
    assert "running" in view.toPlainText()
    view.show_tool_call(ToolCallUpdated("c1", "get_time", ToolStatus.CANCELLED))
    view.render_now()
    assert "cancelled" in view.toPlainText()
    assert view.toPlainText().count("get_time") == 1


def test_markdown_and_json_exports_keep_heard_and_cut_text_apart(view):
    view.show_line(TranscriptLine("u1", "user", "tell me a story", True, 1.0))
    view.show_line(
        TranscriptLine(
            "a1", "assistant", "Once upon", True, 2.0, unheard="a time", interrupted=True
        )
    )
    view.show_tool_call(ToolCallUpdated("c1", "set_timer", ToolStatus.DONE, result="ok"))
    md = view.model.to_markdown()
    assert "**You**" in md and "tell me a story" in md
    assert "Once upon ~~a time~~ *(interrupted)*" in md
    assert "`set_timer` — done" in md
    rows = json.loads(view.model.to_json())["transcript"]
    assistant = next(r for r in rows if r.get("role") == "assistant")
    assert assistant["text"] == "Once upon"
    assert assistant["unheard"] == "a time"
    assert assistant["interrupted"] is True
    assert [r["type"] for r in rows].count("tool_call") == 1


def test_text_is_escaped_not_interpreted_as_html(view):
    view.show_line(TranscriptLine("u1", "user", "<b>bold</b> & stuff", True, 1.0))
    view.render_now()
    assert "<b>bold</b> & stuff" in view.toPlainText()


def test_copy_puts_markdown_on_the_clipboard(view):
    from PySide6.QtGui import QGuiApplication

    view.show_line(TranscriptLine("u1", "user", "copy me", True, 1.0))
    view.copy_all()
    assert "copy me" in QGuiApplication.clipboard().text()
