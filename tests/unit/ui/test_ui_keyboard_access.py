"""Keyboard-only operation: Tab reaches every control, each named for assistive technology.

The focus chain is walked with real Tab / Shift+Tab key events on the focused widget, as a user
would, and the controls are then used from the keyboard alone.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAccessible, QKeyEvent
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from app.events import (
    AssistantState,
    NoticeCategory,
    NoticeLevel,
    SessionStateChanged,
    UserNotice,
)
from app.metrics.latency import LatencyMeter
from app.runtime.commands import Interrupt, PushToTalkPressed, PushToTalkReleased, SetTurnMode

pytestmark = pytest.mark.gui

MAX_STOPS = 40


def _focusable(window: QWidget) -> list[QWidget]:
    """Every visible, enabled widget of ``window`` that takes focus from the Tab key."""
    return [
        w
        for w in window.findChildren(QWidget)
        if w.isVisibleTo(window)
        and w.isEnabled()
        and w.focusPolicy() & Qt.FocusPolicy.TabFocus == Qt.FocusPolicy.TabFocus
        and w.focusProxy() is None
    ]


def _name(widget: QWidget) -> str:
    """The name assistive technology announces (the accessible name, else e.g. a button's text)."""
    iface = QAccessible.queryAccessibleInterface(widget)
    return iface.text(QAccessible.Text.Name).strip() if iface is not None else ""


def _walk(qtbot, start: QWidget, key: Qt.Key) -> list[QWidget]:
    """Press ``key`` from ``start`` until focus comes back; the widgets focused, in order."""
    start.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is start, timeout=2000)
    stops = [start]
    for _ in range(MAX_STOPS):
        before = QApplication.focusWidget()
        qtbot.keyClick(before, key)
        now = QApplication.focusWidget()
        assert now is not None and now is not before, f"focus stuck on {before!r}"
        if now is start:
            return stops
        stops.append(now)
    raise AssertionError(
        f"the focus chain did not come back: {[s.accessibleName() for s in stops]}"
    )


@pytest.fixture
def busy_window(core, qtbot, window):
    """The window while the assistant speaks (Interrupt enabled) with an actionable banner."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    core.publish(
        SessionStateChanged(AssistantState.ASSISTANT_SPEAKING, "reply"),
        UserNotice(
            NoticeLevel.ERROR,
            NoticeCategory.AUTHENTICATION,
            "The voice service refused the API key. Check it in Settings.",
            "open_settings",
        ),
    )
    qtbot.waitUntil(
        lambda: window.interrupt_button.isEnabled() and window.banner.isVisible(), timeout=2000
    )
    return window


def test_tab_reaches_every_control_in_reading_order_and_back(qtbot, busy_window):
    w = busy_window
    forward = _walk(qtbot, w.text_input, Qt.Key.Key_Tab)
    assert set(forward) == set(_focusable(w)), "some controls cannot be reached with Tab"
    order = [
        w.banner.action_button,
        w.transcript,
        w.latency_meter,
        w.text_input,
        w.send_button,
        w.mode_combo,
        w.ptt_button,
        w.interrupt_button,
        w.mute_button,
    ]
    positions = [forward.index(c) for c in order]
    rotated = (
        positions[positions.index(min(positions)) :] + positions[: positions.index(min(positions))]
    )
    assert rotated == sorted(rotated), [c.accessibleName() for c in forward]
    backward = _walk(qtbot, w.text_input, Qt.Key.Key_Backtab)
    assert backward[1:] == list(reversed(forward[1:]))


def test_every_control_in_the_focus_chain_has_an_accessible_name(qtbot, busy_window):
    unnamed = [
        type(c).__name__
        for c in _walk(qtbot, busy_window.text_input, Qt.Key.Key_Tab)
        if not c.accessibleName().strip()
    ]
    assert unnamed == []


def test_a_whole_turn_and_an_interrupt_from_the_keyboard_alone(core, qtbot, busy_window):
    w = busy_window
    w.ptt_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.ptt_button, timeout=2000)
    qtbot.keyPress(w.ptt_button, Qt.Key.Key_Space)
    repeat = QKeyEvent(
        QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", True
    )
    QApplication.sendEvent(w.ptt_button, repeat)  # held down: no second press
    qtbot.keyRelease(w.ptt_button, Qt.Key.Key_Space)
    qtbot.waitUntil(
        lambda: core.commands == [PushToTalkPressed(), PushToTalkReleased()], timeout=2000
    )
    qtbot.keyClick(w.ptt_button, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is w.interrupt_button
    qtbot.keyClick(w.interrupt_button, Qt.Key.Key_Space)
    assert core.commands[-1] == Interrupt()
    w.mode_combo.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.mode_combo, timeout=2000)
    qtbot.keyClick(w.mode_combo, Qt.Key.Key_Down)
    assert core.commands[-1] == SetTurnMode("hands_free")


def test_the_banner_action_is_reachable_and_works_from_the_keyboard(qtbot, busy_window):
    w = busy_window
    w.banner.action_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.banner.action_button, timeout=2000)
    with qtbot.waitSignal(w.sig_settings_requested, timeout=2000) as opened:
        qtbot.keyClick(w.banner.action_button, Qt.Key.Key_Space)
    assert opened.args == ["keys"]


def test_the_latency_breakdown_is_readable_without_a_mouse(core, qtbot, busy_window):
    meter: LatencyMeter = core.meter
    meter.mark("turn-1", "speech_end", 10.0)
    meter.mark("turn-1", "first_audio", 10.42)
    meter.mark("turn-1", "onset", 10.5)
    widget = busy_window.latency_meter
    qtbot.waitUntil(lambda: "Turn 1" in widget.breakdown, timeout=2000)
    description = widget.accessibleDescription()
    assert "500 ms" in description and "Turn 1" in description and "<" not in description
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: widget.hasFocus(), timeout=2000)
    qtbot.waitUntil(lambda: QToolTip.isVisible() and "Turn 1" in QToolTip.text(), timeout=2000)
    widget.clearFocus()
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=2000)


@pytest.mark.parametrize("page", ["session", "keys", "hotkey", "audio"])
def test_every_settings_control_is_reachable_with_tab_and_named(qtbot, bridge, page):
    from ui.settings.dialog import SettingsDialog

    dialog = SettingsDialog(bridge, page)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=2000)
    stops = _walk(qtbot, dialog.page_list, Qt.Key.Key_Tab)
    missing = [_name(c) or type(c).__name__ for c in _focusable(dialog) if c not in stops]
    assert missing == []
    assert [type(c).__name__ for c in stops if not _name(c)] == []
    dialog.close()
