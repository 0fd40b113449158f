from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from app.events import NoticeCategory, UserNotice
from app.settings import schema, store
from app.settings.schema import SettingError
from app.settings.store import Settings, SettingsStore


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- snapshots ---------------------------------------------------------------------------------


def test_snapshot_defaults_and_typed_access() -> None:
    s = Settings.defaults()
    assert s.as_dict() == schema.defaults()
    assert s["audio.aec_enabled"] is True
    assert s.get_int("audio.aec_tail_ms") == 200
    assert s.get_str("hotkey.push_to_talk") == "F9"
    assert s.get_float("audio.vad_threshold") == 0.5
    assert s.get_bool("ui.close_to_tray") is True
    with pytest.raises(TypeError):
        s.get_int("audio.aec_enabled")
    with pytest.raises(KeyError):
        s.get("audio.nope")
    assert len(s) == len(schema.REGISTRY) and "audio.chunk_ms" in s


def test_snapshot_is_immutable() -> None:
    s = Settings.defaults()
    with pytest.raises(AttributeError):
        s.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        s._values = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        s._values["audio.chunk_ms"] = 40  # type: ignore[index]
    d = s.as_dict()
    d["audio.chunk_ms"] = 40
    assert s["audio.chunk_ms"] == 20


def test_with_changes_and_diff() -> None:
    a = Settings.defaults()
    b = a.with_changes({"audio.chunk_ms": 40, "session.voice": "marin", "audio.aec_enabled": True})
    assert a["audio.chunk_ms"] == 20 and b["audio.chunk_ms"] == 40
    assert a.diff(b) == {"audio.chunk_ms", "session.voice"} == b.diff(a)
    assert b.non_defaults() == {"audio.chunk_ms": 40, "session.voice": "marin"}
    assert a == Settings() and a != b and hash(a) == hash(Settings())
    with pytest.raises(SettingError):
        a.with_changes({"audio.chunk_ms": 40, "audio.aec_tail_ms": -1})
    with pytest.raises(SettingError):
        a.with_changes({"nope.key": 1})


# --- apply and subscribe -----------------------------------------------------------------------


def test_apply_is_atomic_and_returns_changed_keys() -> None:
    st = SettingsStore(None)
    assert st.apply({"audio.chunk_ms": 40, "ui.close_to_tray": True}) == {"audio.chunk_ms"}
    before = st.current
    with pytest.raises(SettingError):
        st.apply({"audio.chunk_ms": 60, "audio.ns_level": 9})
    assert st.current is before and st.current["audio.chunk_ms"] == 40
    assert st.save() is False  # in-memory store


def test_observers_fire_only_for_their_keys() -> None:
    st = SettingsStore(None)
    audio: list[tuple[Settings, frozenset[str]]] = []
    voice: list[frozenset[str]] = []
    st.subscribe(["audio.*"], lambda snap, keys: audio.append((snap, keys)))
    unsubscribe = st.subscribe(["session.voice"], lambda snap, keys: voice.append(keys))

    st.apply({"session.instructions": "hi"})
    assert audio == [] and voice == []
    st.apply({"audio.chunk_ms": 40, "session.voice": "marin", "ui.close_to_tray": False})
    assert len(audio) == 1 and audio[0][1] == frozenset({"audio.chunk_ms"})
    assert audio[0][0]["audio.chunk_ms"] == 40
    assert voice == [frozenset({"session.voice"})]
    st.apply({"session.voice": "marin"})  # unchanged: no call
    assert len(voice) == 1
    unsubscribe()
    st.apply({"session.voice": "cedar"})
    assert len(voice) == 1


def test_subscribe_rejects_unknown_keys() -> None:
    st = SettingsStore(None)
    with pytest.raises(KeyError, match="audio.aec_enable"):
        st.subscribe(["audio.aec_enable"], lambda s, k: None)
    with pytest.raises(KeyError):
        st.subscribe(["nosection.*"], lambda s, k: None)
    with pytest.raises(ValueError):
        st.subscribe([], lambda s, k: None)
    with pytest.raises(TypeError):
        st.subscribe("audio.chunk_ms", lambda s, k: None)


def test_failing_observer_does_not_block_others(caplog: pytest.LogCaptureFixture) -> None:
    st = SettingsStore(None)
    seen: list[frozenset[str]] = []

    def broken(snap: Settings, keys: frozenset[str]) -> None:
        raise RuntimeError("boom")

    st.subscribe(["audio.chunk_ms"], broken)
    st.subscribe(["audio.chunk_ms"], lambda s, k: seen.append(k))
    st.apply({"audio.chunk_ms": 40})
    assert seen == [frozenset({"audio.chunk_ms"})]
    assert "subscriber" in caplog.text


def test_concurrent_apply_keeps_every_change() -> None:
    st = SettingsStore(None)
    keys = ["audio.aec_enabled", "audio.ns_enabled", "audio.agc_enabled", "ui.close_to_tray"]
    threads = [threading.Thread(target=st.apply, args=({k: False},)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert all(st.current[k] is False for k in keys)


# --- save and load -----------------------------------------------------------------------------


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    st = SettingsStore(path)
    assert st.load() == []  # missing file: defaults, no notice
    st.apply({"audio.chunk_ms": 40, "session.voice": "marin"})
    assert st.save() is True
    data = json.loads(path.read_text())
    assert data == {"schema_version": 2, "audio": {"chunk_ms": 40}, "session": {"voice": "marin"}}
    again = SettingsStore(path)
    assert again.load() == []
    assert again.current == st.current
    assert _files(path.parent) == ["settings.json"]  # no temp file left


def test_load_publishes_changes(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 2, "audio": {"chunk_ms": 60}}))
    st = SettingsStore(path)
    seen: list[frozenset[str]] = []
    st.subscribe(["audio.chunk_ms", "audio.ns_level"], lambda s, k: seen.append(k))
    st.load()
    assert seen == [frozenset({"audio.chunk_ms"})]


def test_failed_save_leaves_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.json"
    st = SettingsStore(path)
    st.apply({"audio.chunk_ms": 40})
    st.save()
    original = path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    st.apply({"audio.chunk_ms": 80})
    monkeypatch.setattr(store.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        st.save()
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert _files(tmp_path) == ["settings.json"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"schema_version": 2, "audio": {"chunk_ms": 40,,}', "not valid JSON"),
        (bytes(range(256)) * 4, "not a text file"),
        (b"[1, 2, 3]", "does not hold a JSON object"),
        (b'{"schema_version": 2, "audio": "loud"}', "section is not an object"),
        (b'{"schema_version": "two"}', "schema version"),
        (b"", "not valid JSON"),
    ],
    ids=["bad-json", "binary", "not-object", "section-type", "version-type", "empty"],
)
def test_corrupt_file_is_moved_aside(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    st = SettingsStore(path)
    notices = st.load()
    assert st.current == Settings.defaults()
    assert len(notices) == 1
    notice = notices[0]
    assert isinstance(notice, UserNotice) and notice.category is NoticeCategory.SETTINGS
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("settings.json.corrupt-")]
    assert len(moved) == 1 and moved[0].read_bytes() == content
    assert str(moved[0]) in notice.text and reason in notice.text
    assert not path.exists()
    st.apply({"audio.chunk_ms": 40})
    assert st.save() and json.loads(path.read_text())["audio"] == {"chunk_ms": 40}


def test_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    # A directory where the file should be fails to read for every user, root included.
    path = tmp_path / "settings.json"
    path.mkdir()
    st = SettingsStore(path)
    notices = st.load()
    assert len(notices) == 1 and "could not be read" in notices[0].text
    assert st.current == Settings.defaults()
    assert not path.exists()
    assert any(p.name.startswith("settings.json.corrupt-") for p in tmp_path.iterdir())


def test_invalid_value_falls_back_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "audio": {"chunk_ms": 40, "aec_tail_ms": 5000, "ns_enabled": "yes"},
                "session": {"voice": "marin"},
            }
        )
    )
    st = SettingsStore(path)
    notices = st.load()
    assert st.current["audio.chunk_ms"] == 40 and st.current["session.voice"] == "marin"
    assert st.current["audio.aec_tail_ms"] == 200 and st.current["audio.ns_enabled"] is True
    assert len(notices) == 2
    texts = " ".join(n.text for n in notices)
    assert "Echo tail" in texts and "Noise suppression" in texts and "default" in texts
    assert path.exists()  # the file itself is fine: not moved aside


def test_unknown_keys_are_kept_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    original = {
        "schema_version": 2,
        "audio": {"chunk_ms": 40, "future_knob": 7},
        "plugins": {"weather": {"enabled": True}},
        "theme": "dark",
    }
    path.write_text(json.dumps(original))
    st = SettingsStore(path)
    with caplog.at_level("WARNING", logger="app.settings"):
        assert st.load() == []
    unknown_logs = [r for r in caplog.records if "unknown settings" in r.getMessage()]
    assert len(unknown_logs) == 1
    assert "audio.future_knob" in unknown_logs[0].getMessage()
    st.apply({"session.voice": "marin"})
    st.save()
    saved = json.loads(path.read_text())
    assert saved["audio"] == {"chunk_ms": 40, "future_knob": 7}
    assert saved["plugins"] == {"weather": {"enabled": True}}
    assert saved["theme"] == "dark"
    assert saved["session"] == {"voice": "marin"}


def test_no_setting_holds_a_secret() -> None:
    for s in schema.REGISTRY:
        name = s.key.lower()
        assert not any(word in name for word in ("api_key", "secret", "token", "password")), s.key


def test_subscriber_may_apply_again_without_deadlock() -> None:
    st = SettingsStore(None)
    seen: list[frozenset[str]] = []

    def follow(snap: Settings, keys: frozenset[str]) -> None:
        seen.append(keys)
        if snap["session.turn_mode"] == "hands_free":
            st.apply({"session.turn_detection": "semantic_vad"})

    st.subscribe(["session.turn_mode", "session.turn_detection"], follow)
    st.apply({"session.turn_mode": "hands_free"})
    assert st.current["session.turn_detection"] == "semantic_vad"
    assert seen == [frozenset({"session.turn_mode"}), frozenset({"session.turn_detection"})]


def test_deeply_nested_json_is_treated_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    st = SettingsStore(path)
    notices = st.load()
    assert len(notices) == 1 and st.current == Settings.defaults()
    assert not path.exists()


def test_future_file_with_odd_sections_is_used_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 9, "audio": 5, "session": {"voice": "cedar"}}))
    before = path.read_bytes()
    st = SettingsStore(path)
    notices = st.load()
    assert st.read_only and len(notices) == 1
    assert st.current["session.voice"] == "cedar"
    assert path.read_bytes() == before
