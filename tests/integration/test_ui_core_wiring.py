"""The GUI wired to the real core: clicks and keys reach the session, the server and the player.

Everything below the widgets is real: ``ui.shell.Shell`` (bridge, main window, tray, settings
dialog) over ``app.runtime.core.Core`` with its audio engine driven by a paced
``FakeAudioBackend`` (the real callback, player and pipeline at real time, no device) and its
session driver talking to ``ScriptedServer``, a strict OpenAI Realtime mimic on 127.0.0.1 that
records every client event. The scripted server stands in for the embedded local engine through
``Core(start_local_engine=...)``, or is the "custom" provider's URL for the API-key test.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.audio.fake_backend import FakeAudioBackend
from app.audio.player import Player
from app.events import AssistantState, NoticeCategory, TranscriptLine
from app.runtime.core import Core
from app.secrets import SecretStore
from app.settings.store import SettingsStore
from tests.helpers.memory_keyring import MemoryKeyring
from tests.helpers.scripted_server import ScriptedServer
from ui.hotkey.none import NoHotkeyBackend
from ui.settings.dialog import SettingsDialog
from ui.shell import Shell

pytestmark = pytest.mark.gui

WAIT_MS = 15_000  # generous: two cores shared by several engineers
TOO_SHORT = "That was too short to hear; hold the key while you speak."
PCM_BYTES_PER_MS = 48  # 24 kHz PCM16 mono
BASE_SETTINGS: dict[str, object] = {
    "session.provider": "local",
    "session.turn_mode": "push_to_talk",
    "session.input_transcription_model": "",
    "hotkey.enabled": False,
}


@dataclasses.dataclass
class App:
    """One running GUI over one running core, plus what the test observes."""

    core: Core
    shell: Shell
    server: ScriptedServer
    backend: FakeAudioBackend
    states: list[AssistantState]

    @property
    def window(self) -> Any:
        return self.shell.window

    @property
    def player(self) -> Player:
        assert self.core.engine is not None
        return self.core.engine.player

    def count(self, kind: str) -> int:
        return len(self.server.of_type(kind))

    def appended_ms(self, since: int = 0) -> float:
        """Milliseconds of microphone audio appended after the first ``since`` appends."""
        appends = self.server.of_type("input_audio_buffer.append")[since:]
        return sum(len(base64.b64decode(e["audio"])) for e in appends) / PCM_BYTES_PER_MS


def build_app(
    qtbot: QtBot,
    tmp_path: Path,
    server: ScriptedServer,
    settings: Mapping[str, object] | None = None,
    keys: Mapping[str, str] | None = None,
) -> tuple[App, Callable[[], None]]:
    """Start core and GUI; returns the app and its teardown."""
    store = SettingsStore(None)
    store.apply({**BASE_SETTINGS, **(settings or {})})
    secrets = SecretStore(service="voxdesk-test", backend=MemoryKeyring())
    for provider, key in (keys or {}).items():
        secrets.set(provider, key)
    backend = FakeAudioBackend(paced=True)
    core = Core(
        store,
        secrets,
        audio_backend=backend,
        data_dir=tmp_path / "data",
        start_local_engine=lambda _observer: (server.url, "local-token", lambda: None),
    )
    shell = Shell(core, hotkey_factory=lambda: NoHotkeyBackend("test"))
    qtbot.addWidget(shell.window)
    states: list[AssistantState] = []
    shell.bridge.sig_state_changed.connect(lambda event: states.append(event.state))
    shell.show(False)
    qtbot.waitExposed(shell.window)
    core.start()

    def teardown() -> None:
        shell.shutdown()
        core.stop()
        if shell.settings_dialog is not None:
            shell.settings_dialog.close()

    return App(core, shell, server, backend, states), teardown


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def app(qtbot: QtBot, tmp_path: Path, server: ScriptedServer) -> Iterator[App]:
    running, teardown = build_app(qtbot, tmp_path, server)
    try:
        qtbot.waitUntil(
            lambda: running.shell.bridge.state is AssistantState.LISTENING, timeout=WAIT_MS
        )
        yield running
    finally:
        teardown()


def tune(server: ScriptedServer, **knobs: object) -> None:
    """Change how the mimic answers (in place: a connected handler holds the knobs object)."""
    for name, value in knobs.items():
        setattr(server.knobs, name, value)


def hold_ptt(qtbot: QtBot, app: App, press: Callable[[], None], release: Callable[[], None]) -> int:
    """Hold push-to-talk with ``press``/``release`` until 300 ms were sent; the appends before."""
    clears, appends = app.count("input_audio_buffer.clear"), app.count("input_audio_buffer.append")
    press()
    qtbot.waitUntil(lambda: app.count("input_audio_buffer.clear") > clears, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: app.appended_ms(appends) >= 300, timeout=WAIT_MS)
    release()
    return appends


def assert_turn_sent(app: App, appends_before: int) -> None:
    """The last turn went clear → appends → commit → response.create, in that order."""
    kinds = app.server.types()
    clear = len(kinds) - 1 - kinds[::-1].index("input_audio_buffer.clear")
    first_append = [i for i, k in enumerate(kinds) if k == "input_audio_buffer.append"][
        appends_before
    ]
    commit = kinds.index("input_audio_buffer.commit", first_append)
    create = kinds.index("response.create", commit)
    assert clear < first_append < commit < create, kinds[clear:]


# ---------------------------------------------------------------------------- interrupt


def test_interrupt_button_barges_in_flushes_the_player_and_marks_the_line(
    qtbot: QtBot, app: App, server: ScriptedServer
) -> None:
    # A long answer generated slower than real time: the response is still active mid-answer.
    tune(server, chunks=200, chunk_ms=100, pace_s=0.05)
    window, player = app.window, app.player
    window.text_input.setText("tell me a long story")
    qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.interrupt_button.isEnabled(), timeout=WAIT_MS)
    assert window.state_badge.text() == "Speaking"
    item = f"item_resp_{len(server.peers) - 1}_1"
    qtbot.waitUntil(lambda: player.played_ms(item) >= 400, timeout=WAIT_MS)
    epoch = player.state.flush_epoch
    seen_before = len(app.states)

    qtbot.mouseClick(window.interrupt_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: app.count("conversation.item.truncate") == 1, timeout=WAIT_MS)
    # The flush reached the audio engine: a new epoch, honoured by the device callback.
    assert player.state.flush_epoch > epoch
    qtbot.waitUntil(lambda: player.state.seen_epoch == player.state.flush_epoch, timeout=WAIT_MS)
    kinds = server.types()
    assert kinds.count("response.cancel") == 1
    assert kinds.index("response.cancel") < kinds.index("conversation.item.truncate")
    truncate = server.of_type("conversation.item.truncate")[0]
    # Cut at what reached the speaker: at most what the callback wrote (minus output latency).
    assert truncate["item_id"] == item
    assert 300 <= truncate["audio_end_ms"] <= player.played_ms(item)
    # The state machine went through "interrupted" and back to listening, the button with it.
    qtbot.waitUntil(lambda: window.state_badge.state is AssistantState.LISTENING, timeout=WAIT_MS)
    assert AssistantState.INTERRUPTING in app.states[seen_before:]
    assert window.state_badge.text() == "Listening"
    assert not window.interrupt_button.isEnabled()
    # The transcript keeps what was heard and, apart, what was cut.
    line = transcript_line(window, item)
    qtbot.waitUntil(lambda: line() is not None and line().interrupted, timeout=WAIT_MS)
    heard = line()
    assert heard is not None and heard.text.strip() and heard.unheard.strip()
    spoken = server.knobs.transcript
    assert spoken.startswith(heard.text.strip()) and spoken.endswith(heard.unheard.strip())
    assert len(heard.text.strip()) < len(spoken)
    window.transcript.render_now()
    html = window.transcript.toHtml()
    assert "interrupted" in html and "line-through" in html
    errors = [e for e in server.received if e["type"] == "error"]
    assert errors == []  # no cancel race, no truncate past the audio produced


def transcript_line(window: Any, item_id: str) -> Callable[[], TranscriptLine | None]:
    """A reader of the transcript view's current line for ``item_id``."""

    def read() -> TranscriptLine | None:
        for entry in window.transcript.model.entries():
            if entry.line is not None and entry.line.item_id == item_id:
                return entry.line  # type: ignore[no-any-return]
        return None

    return read


def test_escape_interrupts_only_while_the_assistant_speaks(
    qtbot: QtBot, app: App, server: ScriptedServer
) -> None:
    tune(server, chunks=200, chunk_ms=100, pace_s=0.05)
    window = app.window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)
    qtbot.keyClick(window.transcript, Qt.Key.Key_Escape)  # idle: nothing to interrupt
    app.shell.bridge.send_text("tell me a long story")
    qtbot.waitUntil(lambda: window.interrupt_button.isEnabled(), timeout=WAIT_MS)
    qtbot.keyClick(window.transcript, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: app.count("response.cancel") == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.state_badge.state is AssistantState.LISTENING, timeout=WAIT_MS)
    assert app.count("response.create") == 1  # the idle Escape sent nothing


# ---------------------------------------------------------------------------- push-to-talk


def test_ptt_button_press_and_release_clear_append_commit_and_create(
    qtbot: QtBot, app: App, server: ScriptedServer
) -> None:
    tune(server, chunks=3)
    ptt = app.window.ptt_button
    centre = ptt.rect().center()
    before = hold_ptt(
        qtbot,
        app,
        lambda: qtbot.mousePress(ptt, Qt.MouseButton.LeftButton, pos=centre),
        lambda: qtbot.mouseRelease(ptt, Qt.MouseButton.LeftButton, pos=centre),
    )
    qtbot.waitUntil(lambda: app.count("response.create") == 1, timeout=WAIT_MS)
    assert_turn_sent(app, before)
    assert AssistantState.USER_SPEAKING in app.states
    qtbot.waitUntil(
        lambda: app.window.state_badge.state is AssistantState.LISTENING, timeout=WAIT_MS
    )


def test_space_on_the_focused_window_is_push_to_talk(
    qtbot: QtBot, app: App, server: ScriptedServer
) -> None:
    tune(server, chunks=3)
    window = app.window
    window.activateWindow()
    window.transcript.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.transcript, timeout=WAIT_MS)
    before = hold_ptt(
        qtbot,
        app,
        lambda: qtbot.keyPress(window.transcript, Qt.Key.Key_Space),
        lambda: qtbot.keyRelease(window.transcript, Qt.Key.Key_Space),
    )
    qtbot.waitUntil(lambda: app.count("response.create") == 1, timeout=WAIT_MS)
    assert_turn_sent(app, before)
    assert not window.ptt_button.talking


def test_a_too_short_press_is_discarded_with_a_notice_in_the_status_line(
    qtbot: QtBot, app: App
) -> None:
    window = app.window
    qtbot.mouseClick(window.ptt_button, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == TOO_SHORT, timeout=WAIT_MS)
    assert app.count("input_audio_buffer.clear") == 2  # the press's and the discard's
    assert app.count("input_audio_buffer.commit") == 0 and app.count("response.create") == 0
    assert window.banner.isHidden()  # transient: no banner for it
    assert window.state_badge.state is AssistantState.LISTENING


# ---------------------------------------------------------------------------- settings


def voices_sent(server: ScriptedServer) -> list[str]:
    """The voice of every ``session.update`` the server received, in order."""
    voices = []
    for event in server.of_type("session.update"):
        output = event["session"].get("audio", {}).get("output", {})
        voices.append(str(output.get("voice", event["session"].get("voice", ""))))
    return voices


def test_settings_cancel_sends_nothing_and_apply_reaches_the_session(
    qtbot: QtBot, app: App, server: ScriptedServer
) -> None:
    qtbot.waitUntil(lambda: len(voices_sent(server)) >= 1, timeout=WAIT_MS)
    updates = len(voices_sent(server))
    store = app.core.settings_store

    dialog = app.shell.open_settings("session")
    voice = dialog.pages["session"].fields["session.voice"].editor
    qtbot.keyClicks(voice, "ash")  # typed, as a user edits the draft
    assert dialog.apply_button.isEnabled()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel), _LEFT)
    assert not dialog.isVisible()
    assert store.current.get("session.voice") == ""

    dialog = app.shell.open_settings("session")
    voice = dialog.pages["session"].fields["session.voice"].editor
    assert voice.text() == ""  # the cancelled draft is gone
    qtbot.keyClicks(voice, "cedar")
    assert dialog.apply_button.isEnabled()
    qtbot.mouseClick(dialog.apply_button, _LEFT)
    qtbot.waitUntil(lambda: len(voices_sent(server)) == updates + 1, timeout=WAIT_MS)
    assert voices_sent(server)[-1] == "cedar"
    assert "ash" not in voices_sent(server)
    assert store.current.get("session.voice") == "cedar"
    assert not dialog.apply_button.isEnabled()  # nothing left in the draft


_LEFT = Qt.MouseButton.LeftButton


# ---------------------------------------------------------------------------- notices


def test_a_rejected_api_key_shows_a_banner_that_opens_the_keys_page(
    qtbot: QtBot, tmp_path: Path
) -> None:
    with ScriptedServer(reject=lambda _attempt: 401) as server:
        running, teardown = build_app(
            qtbot,
            tmp_path,
            server,
            settings={"session.provider": "custom", "session.url": server.url},
            keys={"custom": "sk-test-rejected-key-0001"},
        )
        try:
            window = running.window
            qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
            assert window.banner.notice.category is NoticeCategory.AUTHENTICATION
            assert "API key" in window.banner.text
            assert window.banner.action_button.text() == "Open settings"
            assert server.headers[0]["Authorization"] == "Bearer sk-test-rejected-key-0001"
            assert "sk-test" not in window.banner.text
            qtbot.mouseClick(window.banner.action_button, _LEFT)
            dialog = running.shell.settings_dialog
            assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
            assert dialog.current_page.page_id == "keys"
            assert not window.banner.isVisible()
            assert running.shell.bridge.state in (
                AssistantState.FAILED,
                AssistantState.RECONNECTING,
            )
        finally:
            teardown()
