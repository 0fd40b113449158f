"""Notices: transient ones in the status line, actionable ones as a banner with a button."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.events import NoticeCategory, NoticeLevel, UserNotice
from ui.bridge import Bridge
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui

REJECTED = UserNotice(
    NoticeLevel.ERROR,
    NoticeCategory.AUTHENTICATION,
    "API key rejected by OpenAI. Enter a valid key in the settings.",
    action="open_settings",
)


def test_transient_notice_goes_to_the_status_line(core, qtbot, window):
    core.publish(UserNotice(NoticeLevel.WARNING, NoticeCategory.CONNECTIVITY, "Reconnecting…"))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Reconnecting…", timeout=2000)
    assert not window.banner.isVisible()


def test_actionable_notice_shows_a_banner_whose_button_opens_the_keys_page(core, qtbot, window):
    core.publish(REJECTED)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=2000)
    assert window.banner.text == REJECTED.text
    assert window.banner.action_button.text() == "Open settings"
    with qtbot.waitSignal(window.sig_settings_requested, timeout=2000) as blocker:
        qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["keys"]
    assert not window.banner.isVisible()


def test_banner_can_be_dismissed(core, qtbot, window):
    core.publish(REJECTED)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=2000)
    window.banner._dismiss.click()
    assert not window.banner.isVisible()


def test_notices_sent_before_the_window_exists_are_replayed_once(core, qtbot):
    bridge = Bridge(core)
    core.publish(REJECTED)
    qtbot.wait(1)  # let the queued emission run with nobody listening yet
    w = MainWindow(bridge)
    qtbot.addWidget(w)
    w.show()
    assert w.banner.notice == REJECTED
    assert w.notices.history == [REJECTED]
    w.shutdown()


def test_an_info_notice_of_the_same_category_clears_the_banner(core, qtbot, window):
    lost = UserNotice(
        NoticeLevel.ERROR, NoticeCategory.AUDIO_DEVICE, "Microphone lost.", "open_settings"
    )
    core.publish(lost)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=2000)
    core.publish(UserNotice(NoticeLevel.INFO, NoticeCategory.CONNECTIVITY, "Connected."))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Connected.", timeout=2000)
    assert window.banner.isVisible()
    core.publish(UserNotice(NoticeLevel.INFO, NoticeCategory.AUDIO_DEVICE, "Audio is back."))
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=2000)


def test_a_reconnect_banner_posts_reconnect_to_the_core(core, qtbot, window):
    from app.runtime.commands import Reconnect

    crashed = UserNotice(
        NoticeLevel.ERROR, NoticeCategory.GENERAL, "The session stopped unexpectedly.", "reconnect"
    )
    core.publish(crashed)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=2000)
    assert window.banner.action_button.text() == "Reconnect"
    qtbot.mouseClick(window.banner.action_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(isinstance(c, Reconnect) for c in core.commands), timeout=2000)
    assert not window.banner.isVisible()
