"""Crash reports from every thread reach the GUI thread, with secrets masked."""

from __future__ import annotations

import asyncio
import threading

import pytest
from PySide6.QtCore import QThread

from ui.crash_dialog import CrashDialog, CrashReporter

pytestmark = pytest.mark.gui


@pytest.fixture
def reporter(qtbot):
    r = CrashReporter(show_dialog=False)
    uninstall = r.install()
    yield r
    uninstall()


def test_thread_exceptions_reach_the_gui_thread(qtbot, reporter):
    seen_on: list[bool] = []
    reporter.sig_crash_reported.connect(
        lambda *_: seen_on.append(QThread.currentThread() is qtbot_main_thread())
    )

    def fail() -> None:
        raise ValueError("engine exploded")

    with qtbot.waitSignal(reporter.sig_crash_reported, timeout=3000):
        t = threading.Thread(target=fail, name="audio-engine")
        t.start()
        t.join(5)
    qtbot.waitUntil(lambda: bool(reporter.reports), timeout=2000)
    where, details = reporter.reports[0]
    assert "audio-engine" in where
    assert "engine exploded" in details


def qtbot_main_thread() -> QThread:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_api_keys_are_masked_in_reports(qtbot, reporter):
    reporter.report("test", "Traceback: bad key sk-abcdefghijklmnopqrstuvwxyz0123")
    qtbot.waitUntil(lambda: bool(reporter.reports), timeout=2000)
    assert "sk-abcdefghijklmnop" not in reporter.reports[0][1]


def test_asyncio_loop_handler_reports_task_errors(qtbot, reporter):
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(reporter.asyncio_handler())

        async def broken() -> None:
            raise RuntimeError("session task failed")

        async def main() -> None:
            task = loop.create_task(broken())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            del task

        loop.run_until_complete(main())
        import gc

        gc.collect()
    finally:
        loop.close()
    qtbot.waitUntil(lambda: bool(reporter.reports), timeout=2000)
    assert "session task failed" in reporter.reports[0][1]


def test_crash_dialog_shows_details(qtbot):
    d = CrashDialog("the session loop", "Traceback ... ValueError: x")
    qtbot.addWidget(d)
    assert "ValueError" in d.details.toPlainText()
    from PySide6.QtWidgets import QLabel

    assert any("the session loop" in label.text() for label in d.findChildren(QLabel))
