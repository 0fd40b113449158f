"""The bridge: core events from any thread become GUI-thread signals; commands go to the core."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from app.events import (
    AssistantState,
    NoticeCategory,
    NoticeLevel,
    SessionStateChanged,
    TranscriptLine,
    UserNotice,
)
from app.runtime.commands import Interrupt, SendText
from ui.bridge import Bridge, CoreFacade

pytestmark = pytest.mark.gui


def test_the_recording_core_satisfies_the_facade(core):
    assert isinstance(core, CoreFacade)


def test_events_from_a_core_thread_arrive_on_the_gui_thread(qtbot, core, bridge):
    threads: list[bool] = []
    got: list[object] = []

    def on_state(event: object) -> None:
        threads.append(QThread.currentThread() is QApplication.instance().thread())
        got.append(event)

    bridge.sig_state_changed.connect(on_state)
    event = SessionStateChanged(AssistantState.THINKING, "committed")
    with qtbot.waitSignal(bridge.sig_state_changed, timeout=2000):
        core.publish(event)
    assert got == [event]
    assert threads == [True]
    assert bridge.state is AssistantState.THINKING


def test_events_are_routed_to_their_own_signal(qtbot, core, bridge):
    line = TranscriptLine("i1", "user", "hello", True, 1.0)
    with qtbot.waitSignal(bridge.sig_transcript_updated, timeout=2000) as blocker:
        with qtbot.assertNotEmitted(bridge.sig_state_changed):
            core.publish(line)
    assert blocker.args == [line]


def test_a_core_that_refuses_a_command_becomes_a_notice_not_a_crash(qtbot, core):
    class Closing(type(core)):
        def submit(self, command: object) -> None:
            raise RuntimeError("core is shutting down")

    closing = Closing()
    b = Bridge(closing)
    with qtbot.waitSignal(b.sig_notice_posted, timeout=2000) as blocker:
        b.interrupt()
    notice = blocker.args[0]
    assert isinstance(notice, UserNotice)
    assert notice.level is NoticeLevel.WARNING
    assert notice.category is NoticeCategory.GENERAL


def test_blank_text_is_not_sent(core, bridge):
    bridge.send_text("   ")
    bridge.send_text("  hi ")
    bridge.interrupt()
    assert core.commands == [SendText("hi"), Interrupt()]
