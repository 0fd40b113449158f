"""Main window wiring: interrupt, push-to-talk (mouse and Space), modes, typing, meters."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.events import (
    AssistantState,
    ConnectionChanged,
    ConnectionState,
    ModelLoadProgress,
    SessionStateChanged,
)
from app.runtime.commands import (
    Interrupt,
    PushToTalkPressed,
    PushToTalkReleased,
    SendText,
    SetMicMuted,
    SetTurnMode,
)
from ui.widgets.ptt_button import KEY_RELEASE_GRACE_MS

pytestmark = pytest.mark.gui


def _state(core, qtbot, window, state: AssistantState) -> None:
    core.publish(SessionStateChanged(state, "test"))
    qtbot.waitUntil(lambda: window.state_badge.state is state, timeout=2000)


def _space(widget, kind: QEvent.Type, auto_repeat: bool = False) -> None:
    event = QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", auto_repeat)
    QApplication.sendEvent(widget, event)


def test_interrupt_button_enabled_only_while_assistant_speaks_or_tool_runs(core, qtbot, window):
    assert not window.interrupt_button.isEnabled()
    _state(core, qtbot, window, AssistantState.ASSISTANT_SPEAKING)
    assert window.interrupt_button.isEnabled()
    _state(core, qtbot, window, AssistantState.LISTENING)
    assert not window.interrupt_button.isEnabled()
    _state(core, qtbot, window, AssistantState.TOOL_RUNNING)
    assert window.interrupt_button.isEnabled()


def test_pressing_interrupt_while_assistant_speaks_posts_interrupt(core, qtbot, window):
    _state(core, qtbot, window, AssistantState.ASSISTANT_SPEAKING)
    qtbot.mouseClick(window.interrupt_button, Qt.MouseButton.LeftButton)
    assert core.commands == [Interrupt()]


def test_escape_is_the_interrupt_shortcut(core, qtbot, window):
    _state(core, qtbot, window, AssistantState.ASSISTANT_SPEAKING)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert core.of_type(Interrupt) == [Interrupt()]
    _state(core, qtbot, window, AssistantState.LISTENING)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert core.of_type(Interrupt) == [Interrupt()]


def test_ptt_button_press_and_release_post_pressed_then_released(core, qtbot, window):
    qtbot.mousePress(window.ptt_button, Qt.MouseButton.LeftButton)
    assert core.commands == [PushToTalkPressed()]
    assert window.ptt_button.talking
    qtbot.mouseRelease(window.ptt_button, Qt.MouseButton.LeftButton)
    assert core.commands == [PushToTalkPressed(), PushToTalkReleased()]
    assert not window.ptt_button.talking


def test_space_on_the_window_is_push_to_talk_and_auto_repeat_is_ignored(core, qtbot, window):
    window.activateWindow()
    window.transcript.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    _space(window.transcript, QEvent.Type.KeyPress)
    _space(window.transcript, QEvent.Type.KeyPress, auto_repeat=True)
    _space(window.transcript, QEvent.Type.KeyRelease, auto_repeat=True)
    _space(window.transcript, QEvent.Type.KeyPress, auto_repeat=True)
    _space(window.transcript, QEvent.Type.KeyRelease)
    qtbot.waitUntil(
        lambda: core.commands == [PushToTalkPressed(), PushToTalkReleased()], timeout=2000
    )


@pytest.mark.parametrize("on_button", [False, True], ids=["window", "talk-button"])
def test_an_auto_repeat_pair_qt_did_not_mark_does_not_split_the_turn(
    core, qtbot, window, on_button
):
    """X11 repeats a held key as release + press; under load Qt delivers them unmarked."""
    target = window.ptt_button if on_button else window.transcript
    window.activateWindow()
    target.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is target, timeout=2000)
    _space(target, QEvent.Type.KeyPress)
    for _ in range(3):  # each repeat of the held key, unmarked
        _space(target, QEvent.Type.KeyRelease)
        _space(target, QEvent.Type.KeyPress)
    qtbot.wait(KEY_RELEASE_GRACE_MS * 3)
    assert core.commands == [PushToTalkPressed()]
    assert window.ptt_button.talking
    up = time.monotonic()
    _space(target, QEvent.Type.KeyRelease)
    qtbot.waitUntil(lambda: len(core.commands) == 2, timeout=2000)
    released = core.commands[1]
    assert isinstance(released, PushToTalkReleased)
    # dated to the key going up, not to the end of the grace
    assert released.at is not None and up <= released.at < up + KEY_RELEASE_GRACE_MS / 1000
    assert not window.ptt_button.talking


def test_space_while_typing_types_instead_of_talking(core, qtbot, window):
    window.activateWindow()
    window.text_input.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClicks(window.text_input, "hi there")
    assert window.text_input.text() == "hi there"
    assert core.commands == []


def test_typed_text_is_sent_and_the_box_cleared(core, qtbot, window):
    qtbot.keyClicks(window.text_input, "what is 2 plus 2")
    qtbot.keyClick(window.text_input, Qt.Key.Key_Return)
    assert core.commands == [SendText("what is 2 plus 2")]
    assert window.text_input.text() == ""


def test_hands_free_disables_ptt_with_a_reason_and_posts_the_mode(core, qtbot, window):
    window.mode_combo.setCurrentIndex(window.mode_combo.findData("hands_free"))
    assert core.commands == [SetTurnMode("hands_free")]
    assert not window.ptt_button.isEnabled()
    assert "Hands-free" in window.ptt_button.toolTip()


def test_mute_button_posts_set_mic_muted(core, qtbot, window):
    qtbot.mouseClick(window.mute_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.mute_button, Qt.MouseButton.LeftButton)
    assert core.commands == [SetMicMuted(True), SetMicMuted(False)]


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (AssistantState.LISTENING, "Listening"),
        (AssistantState.USER_SPEAKING, "You're speaking"),
        (AssistantState.THINKING, "Thinking"),
        (AssistantState.ASSISTANT_SPEAKING, "Speaking"),
        (AssistantState.INTERRUPTING, "Interrupted"),
        (AssistantState.RECONNECTING, "Reconnecting…"),
    ],
)
def test_state_is_shown_plainly(core, qtbot, window, state, text):
    _state(core, qtbot, window, state)
    assert window.state_badge.text() == text


def test_connection_and_model_progress_are_shown(core, qtbot, window):
    core.publish(ConnectionChanged("local", "whisper-tiny.en", ConnectionState.CONNECTED))
    qtbot.waitUntil(lambda: "whisper-tiny.en" in window.connection_label.text(), timeout=2000)
    assert "Connected" in window.connection_label.text()
    core.publish(ModelLoadProgress("stt", 0.4, "Whisper tiny.en"))
    qtbot.waitUntil(lambda: window.model_progress.isVisible(), timeout=2000)
    assert window.model_progress.value() == 40
    core.publish(ModelLoadProgress("stt", 1.0, "Whisper tiny.en", done=True))
    qtbot.waitUntil(lambda: not window.model_progress.isVisible(), timeout=2000)


def test_timer_reads_levels_echo_attenuation_and_latency(core, qtbot, window):
    t = time.monotonic()
    core.meter.mark("turn-1", "speech_end", t)
    core.meter.mark("turn-1", "first_audio", t + 0.42)
    core.meter.mark("turn-1", "onset", t + 0.5)
    qtbot.waitUntil(
        lambda: window.latency_meter.cell_text("voice_to_voice", 1) == "500 ms", timeout=2000
    )
    assert window.latency_meter.cell_text("speech_end_to_first_audio", 1) == "420 ms"
    assert window.input_meter.level_db == pytest.approx(-30.0)
    assert window.echo_label.text() == "Echo attenuation: 32 dB"


def test_every_control_has_an_accessible_name(window):
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit

    controls = window.findChildren(QAbstractButton) + window.findChildren(QComboBox)
    controls += window.findChildren(QLineEdit)
    unnamed = [c for c in controls if c.isVisible() and not c.accessibleName()]
    assert unnamed == []
