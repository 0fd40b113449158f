"""Settings dialog: generated from the registry, edited as a draft, applied at once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.runtime.commands import ApplySettings
from app.settings import schema
from ui.settings.dialog import SettingsDialog
from ui.settings.hotkeys_page import KeyCaptureEdit

pytestmark = pytest.mark.gui


@pytest.fixture
def dialog(qtbot, bridge):
    d = SettingsDialog(bridge)
    qtbot.addWidget(d)
    d.show()
    return d


def _field(dialog, key):
    for page in dialog.pages.values():
        if key in page.fields:
            return page, page.fields[key]
    raise KeyError(key)


def test_every_registry_setting_has_an_editor_with_help(dialog):
    shown = {key for page in dialog.pages.values() for key in page.fields}
    assert shown == set(schema.keys())
    for page in dialog.pages.values():
        for key, field in page.fields.items():
            assert field.editor.toolTip() == schema.get(key).help
            assert field.editor.accessibleName()


def test_edits_stay_in_the_draft_until_apply_and_are_labelled_with_when_they_apply(dialog, core):
    page, field = _field(dialog, "audio.aec_tail_ms")
    field.editor.setValue(320)
    assert core.commands == []
    assert dialog.apply_button.isEnabled()
    assert page.applies_labels["audio.aec_tail_ms"].text() == "● restarts audio"
    _, mode = _field(dialog, "session.turn_mode")
    mode.editor.setCurrentIndex(mode.editor.findData("hands_free"))
    assert dialog.apply()
    assert core.commands == [
        ApplySettings({"audio.aec_tail_ms": 320, "session.turn_mode": "hands_free"})
    ]
    assert page.applies_labels["audio.aec_tail_ms"].text() == ""
    assert not dialog.apply_button.isEnabled()


def test_cancel_posts_nothing(qtbot, dialog, core):
    _, field = _field(dialog, "session.context_turns")
    field.editor.setValue(7)
    qtbot.mouseClick(
        dialog.buttons.button(dialog.buttons.StandardButton.Cancel), Qt.MouseButton.LeftButton
    )
    assert core.commands == []
    assert not dialog.isVisible()


def test_ok_applies_and_closes(qtbot, dialog, core):
    _, field = _field(dialog, "ui.close_to_tray")
    field.editor.setChecked(False)
    qtbot.mouseClick(
        dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    assert core.commands == [ApplySettings({"ui.close_to_tray": False})]
    assert not dialog.isVisible()


def test_invalid_values_are_refused_with_every_problem_named(dialog, core, monkeypatch):
    refused: list[str] = []
    monkeypatch.setattr(
        SettingsDialog, "ask_refused", classmethod(lambda cls, p, text: refused.append(text))
    )
    _, url = _field(dialog, "session.url")
    url.editor.setText("not a url")
    url.editor.textEdited.emit("not a url")
    _, llm = _field(dialog, "local.llm_url")
    llm.editor.setText("ftp://nope")
    llm.editor.textEdited.emit("ftp://nope")
    assert not dialog.apply()
    assert core.commands == []
    assert "Server address" in refused[0] and "Chat model address" in refused[0]


def test_restore_defaults_puts_registry_defaults_in_the_draft(dialog, core):
    dialog.show_page("audio")
    page, field = _field(dialog, "audio.vad_min_silence_ms")
    field.editor.setValue(900)
    dialog.apply()
    core.commands.clear()
    dialog.defaults_button.click()
    assert field.value() == schema.get("audio.vad_min_silence_ms").default
    dialog.apply()
    assert core.commands == [ApplySettings({"audio.vad_min_silence_ms": 500})]


def test_hotkeys_are_captured_by_pressing_them(qtbot, dialog):
    dialog.show_page("hotkey")
    page, field = _field(dialog, "hotkey.push_to_talk")
    assert isinstance(field.editor, KeyCaptureEdit)
    qtbot.keyClick(field.editor, Qt.Key.Key_F7, Qt.KeyboardModifier.ControlModifier)
    assert field.value() == "ctrl+F7"
    assert dialog.draft.changes() == {"hotkey.push_to_talk": "ctrl+F7"}
    schema.validate("hotkey.push_to_talk", "ctrl+F7")


def test_audio_tools_without_an_engine_are_disabled_with_a_reason(dialog):
    page = dialog.pages["audio"]
    assert not page.self_test_button.isEnabled()
    assert "Not available" in page.self_test_button.toolTip()
    assert not page.tone_button.isEnabled()


def test_audio_self_test_runs_off_the_gui_thread_and_shows_the_result(qtbot, bridge, core):
    import threading

    threads: list[str] = []

    def self_test() -> str:
        threads.append(threading.current_thread().name)
        return "Echo delay 42 ms, attenuation 31 dB"

    core.run_audio_self_test = self_test  # the optional facade extra
    d = SettingsDialog(bridge, "audio")
    qtbot.addWidget(d)
    page = d.pages["audio"]
    assert page.self_test_button.isEnabled()
    page.self_test_button.click()
    qtbot.waitUntil(lambda: "attenuation 31 dB" in page.self_test_result.text(), timeout=3000)
    assert threads == ["audio-self-test"]


def test_keys_page_stores_the_key_in_the_secret_store_and_never_shows_it(qtbot, dialog, core):
    dialog.show_page("keys")
    row = dialog.pages["keys"].rows[0]
    assert row.provider == "openai"
    row.key_edit.setText("sk-test-1234567890abcdef")
    row.save_button.click()
    assert core.secrets.get("openai").reveal() == "sk-test-1234567890abcdef"
    assert row.key_edit.text() == ""
    assert "stored" in row.status.text()
    assert "sk-test" not in row.status.text()
    row.delete_button.click()
    assert core.secrets.get("openai") is None
    assert "keyring" in dialog.pages["keys"].backend_label.text()


def test_keys_page_says_when_the_key_is_held_for_this_run_only(qtbot, bridge, core):
    from app.secrets import SecretStore

    class PlaintextKeyring:
        priority = 0.5

    core.secrets = SecretStore(service="voxdesk-test", backend=PlaintextKeyring())
    d = SettingsDialog(bridge, "keys")
    qtbot.addWidget(d)
    page = d.pages["keys"]
    assert "this run only" in page.backend_label.text()
    page.rows[0].key_edit.setText("sk-memory-only-123456")
    page.rows[0].save_button.click()
    assert "this run only" in page.rows[0].status.text()


def test_memory_view_edit_forget(qtbot, bridge, core, tmp_path):
    from app.session.memory import Memory

    memory = Memory(tmp_path / "memory.db")
    memory.remember("My cat is called Miso")
    core.memory = memory
    d = SettingsDialog(bridge, "session")
    qtbot.addWidget(d)
    page = d.pages["session"]
    assert [page.facts_list.item(i).text() for i in range(page.facts_list.count())] == [
        "My cat is called Miso"
    ]
    page.facts_list.setCurrentRow(0)
    page.forget_fact_button.click()
    assert page.facts_list.count() == 0
    assert memory.facts() == []
    memory.close()
