"""The composed GUI with a tray from a factory: state, menu actions, close-to-tray, settings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from app.events import AssistantState, SessionStateChanged
from app.runtime.commands import Interrupt, PushToTalkPressed, PushToTalkReleased, SetMicMuted
from ui.hotkey.base import INTERRUPT, PUSH_TO_TALK
from ui.shell import Shell

pytestmark = pytest.mark.gui


class FakeTray(QObject):
    sig_talk_toggled = Signal(bool)
    sig_interrupt_requested = Signal()
    sig_mute_toggled = Signal(bool)
    sig_show_hide_requested = Signal()
    sig_quit_requested = Signal()

    def __init__(self, parent: QObject, shown: bool = True) -> None:
        super().__init__(parent)
        self.shown = shown
        self.states: list[AssistantState] = []
        self.interrupt_enabled = False

    def available(self) -> bool:
        return self.shown

    def set_state(self, state: AssistantState) -> None:
        self.states.append(state)

    def set_interrupt_enabled(self, enabled: bool) -> None:
        self.interrupt_enabled = enabled

    def notify(self, title: str, text: str) -> None:
        pass


class FakeHotkeys:
    name = "fake"

    def __init__(self) -> None:
        self.bindings: dict[str, str] = {}
        self.on_press = self.on_release = None
        self.stopped = 0

    def start(self, bindings, on_press, on_release) -> None:
        self.bindings = dict(bindings)
        self.on_press, self.on_release = on_press, on_release

    def stop(self) -> None:
        self.stopped += 1

    def describe(self) -> str:
        return "fake hotkeys"


@pytest.fixture
def shell(qtbot, core):
    hotkeys = FakeHotkeys()
    s = Shell(core, tray_factory=FakeTray, hotkey_factory=lambda: hotkeys)
    s.test_hotkeys = hotkeys
    qtbot.addWidget(s.window)
    s.show(start_minimized=False)
    yield s
    s.shutdown()


def test_tray_follows_the_state_and_enables_interrupt(core, qtbot, shell):
    core.publish(SessionStateChanged(AssistantState.ASSISTANT_SPEAKING, "reply"))
    qtbot.waitUntil(lambda: shell.tray.states[-1:] == [AssistantState.ASSISTANT_SPEAKING])
    assert shell.tray.interrupt_enabled
    shell.tray.sig_interrupt_requested.emit()
    assert core.commands == [Interrupt()]


def test_tray_talk_and_mute_post_commands(core, shell):
    shell.tray.sig_talk_toggled.emit(True)
    shell.tray.sig_talk_toggled.emit(False)
    shell.tray.sig_mute_toggled.emit(True)
    assert core.commands == [PushToTalkPressed(), PushToTalkReleased(), SetMicMuted(True)]
    assert shell.window.mute_button.isChecked()


def test_close_to_tray_hides_instead_of_quitting(core, qtbot, shell):
    assert shell.window.close_to_tray  # default on, and the fake tray is shown
    shell.window.close()
    assert not shell.window.isVisible()
    shell.tray.sig_show_hide_requested.emit()
    assert shell.window.isVisible()


def test_without_a_tray_host_closing_quits(qtbot, core):
    s = Shell(core, tray_factory=lambda p: FakeTray(p, shown=False), hotkey_factory=FakeHotkeys)
    qtbot.addWidget(s.window)
    s.show(start_minimized=False)
    assert s.window.isVisible()
    assert not s.window.close_to_tray
    with qtbot.waitSignal(s.sig_quit_requested, timeout=2000):
        s.window.close()


def test_hotkeys_use_the_settings_and_restart_when_they_change(core, qtbot, shell):
    hk = shell.test_hotkeys
    assert hk.bindings == {PUSH_TO_TALK: "F9", INTERRUPT: "F10"}
    assert shell.bridge.hotkey_status == "fake hotkeys"
    core.settings_store.apply({"hotkey.push_to_talk": "F8"})
    qtbot.waitUntil(lambda: hk.bindings.get(PUSH_TO_TALK) == "F8", timeout=2000)


def test_hotkey_callbacks_from_another_thread_post_commands(core, qtbot, shell):
    import threading

    hk = shell.test_hotkeys

    def hold() -> None:
        hk.on_press(PUSH_TO_TALK)
        hk.on_press(PUSH_TO_TALK)  # auto-repeat
        hk.on_release(PUSH_TO_TALK)
        hk.on_press(INTERRUPT)

    t = threading.Thread(target=hold, name="hotkey-x11")
    t.start()
    t.join(5)
    assert core.commands == [PushToTalkPressed(), PushToTalkReleased(), Interrupt()]
    assert set(core.submit_threads) == {"hotkey-x11"}


def test_settings_dialog_opens_at_the_requested_page(shell):
    dialog = shell.open_settings("keys")
    assert dialog.current_page.page_id == "keys"
    assert shell.open_settings("audio") is dialog
    assert dialog.current_page.page_id == "audio"
    dialog.close()


def test_real_tray_is_built_by_the_default_factory(qtbot):
    from ui.tray import Tray, default_tray_factory

    parent = QObject()
    tray = default_tray_factory(parent)
    assert isinstance(tray, Tray)
    tray.set_state(AssistantState.THINKING)
    assert "Thinking" in tray.icon.toolTip()
    assert [a.text() for a in tray.menu.actions() if a.text()] == [
        "Talk (click again to send)",
        "Interrupt",
        "Mute microphone",
        "Show / hide window",
        "Quit VoxDesk",
    ]
    with qtbot.waitSignal(tray.sig_interrupt_requested, timeout=1000):
        tray.interrupt_action.setEnabled(True)
        tray.interrupt_action.trigger()


def test_start_minimized_with_a_tray_shows_only_the_tray(qtbot, core):
    s = Shell(core, tray_factory=FakeTray, hotkey_factory=FakeHotkeys)
    qtbot.addWidget(s.window)
    core.settings_store.apply({"ui.start_minimized": True})
    s.show()
    assert not s.window.isVisible()
    s.tray.sig_show_hide_requested.emit()
    assert s.window.isVisible() and not s.window.isMinimized()
    s.shutdown()


def test_start_minimized_without_a_tray_minimizes_to_the_taskbar_and_says_why(qtbot, core):
    s = Shell(core, tray_factory=lambda p: FakeTray(p, shown=False), hotkey_factory=FakeHotkeys)
    qtbot.addWidget(s.window)
    core.settings_store.apply({"ui.start_minimized": True})
    s.show()
    # A hidden window with no tray icon could never be brought back: it stays reachable.
    assert s.window.isVisible() and s.window.isMinimized()
    assert "no system tray" in s.window.statusBar().currentMessage()
    s.shutdown()
