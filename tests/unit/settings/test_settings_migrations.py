from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.settings import migrations
from app.settings.migrations import MigrationError, migrate
from app.settings.schema import SCHEMA_VERSION
from app.settings.store import SettingsStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "settings"


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / "settings.json"
    shutil.copy(FIXTURES / name, target)
    return target


def test_v1_fixture_migrates(tmp_path: Path) -> None:
    path = _copy("v1.json", tmp_path)
    original = path.read_text()
    st = SettingsStore(path)
    assert st.load() == []
    s = st.current
    assert s["audio.input_device"] == "USB Headset Mic"
    assert s["audio.output_device"] == "USB Headset"
    assert s["audio.vad_threshold"] == pytest.approx(0.65)
    assert s["hotkey.push_to_talk"] == "ctrl+space"
    assert s["hotkey.interrupt"] == "F12"
    assert s["session.turn_mode"] == "hands_free"
    assert s["session.provider"] == "local"
    assert s["session.voice"] == "joe"
    assert s["session.instructions"] == "Be brief."
    assert s["audio.aec_enabled"] is False
    assert s["log.level"] == "DEBUG"
    assert s["ui.close_to_tray"] is False
    assert st.unknown == {"window_opacity": 0.9}
    # The upgraded file is written back in the current layout; the old one is kept as a backup.
    saved = json.loads(path.read_text())
    assert saved["schema_version"] == SCHEMA_VERSION and "version" not in saved
    assert saved["audio"]["vad_threshold"] == pytest.approx(0.65)
    assert saved["window_opacity"] == 0.9
    assert (tmp_path / "settings.json.v1.bak").read_text() == original
    again = SettingsStore(path)
    assert again.load() == [] and again.current == s


def test_v2_fixture_loads_as_is(tmp_path: Path) -> None:
    path = _copy("v2.json", tmp_path)
    before = path.read_bytes()
    st = SettingsStore(path)
    assert st.load() == []
    s = st.current
    assert s["audio.aec_tail_ms"] == 300 and s["session.provider"] == "openai"
    assert s["session.turn_mode"] == "hands_free" and s["hotkey.push_to_talk"] == "F8"
    assert set(st.unknown) == {"audio.future_knob", "plugins.weather", "theme"}
    assert path.read_bytes() == before  # nothing to upgrade, nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_future_version_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    data = {"schema_version": SCHEMA_VERSION + 1, "audio": {"chunk_ms": 40, "aec_tail_ms": -5}}
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    st = SettingsStore(path)
    notices = st.load()
    assert st.read_only
    assert st.current["audio.chunk_ms"] == 40 and st.current["audio.aec_tail_ms"] == 200
    assert any("newer VoxDesk" in n.text for n in notices)
    assert any("Echo tail" in n.text for n in notices)
    st.apply({"audio.chunk_ms": 60})
    assert st.save() is False
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_v1_with_bad_values_keeps_what_validates(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "vad_threshold": 400, "ptt_key": "F7"}))
    st = SettingsStore(path)
    notices = st.load()
    assert st.current["hotkey.push_to_talk"] == "F7"
    assert st.current["audio.vad_threshold"] == 0.5
    assert len(notices) == 1 and "Speech detection threshold" in notices[0].text


def test_file_without_version_is_read_as_v1() -> None:
    assert migrate({"ptt_key": "F7"}) == {"schema_version": 2, "hotkey": {"push_to_talk": "F7"}}


def test_missing_migration_is_an_error() -> None:
    with pytest.raises(MigrationError, match="no migration from settings version 2"):
        migrate({"schema_version": 2}, to_version=3)
    with pytest.raises(MigrationError):
        migrate({"schema_version": 0})


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        migrations.migration(from_version=1)(lambda d: d)


def test_every_step_up_to_current_is_registered() -> None:
    assert set(migrations._MIGRATIONS) == set(range(1, SCHEMA_VERSION))
