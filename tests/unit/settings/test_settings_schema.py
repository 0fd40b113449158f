from __future__ import annotations

import math

import pytest

from app.settings import schema
from app.settings.schema import REGISTRY, SECTIONS, Applies, Setting, SettingError


@pytest.mark.parametrize("setting", REGISTRY, ids=lambda s: s.key)
def test_every_entry_is_consistent(setting: Setting) -> None:
    section_ids = [s for s, _ in SECTIONS]
    assert setting.section in section_ids
    assert setting.key.count(".") == 1 and setting.key == setting.key.strip()
    assert setting.type in (bool, int, float, str)
    assert type(setting.default) is setting.type
    assert setting.label.strip() and setting.label[0].isupper()
    assert setting.help.strip().endswith((".", ")"))
    assert isinstance(setting.applies, Applies)
    assert schema.validate(setting.key, setting.default) == setting.default
    if setting.minimum is not None or setting.maximum is not None:
        assert setting.type in (int, float)
        assert setting.minimum is not None and setting.maximum is not None
        assert setting.minimum < setting.maximum
        assert setting.minimum <= setting.default <= setting.maximum  # type: ignore[operator]
    if setting.choices:
        values = setting.choice_values
        assert len(set(values)) == len(values)
        assert setting.default in values
        assert all(type(v) is setting.type for v in values)
        assert all(label.strip() for _, label in setting.choices)
    if setting.unit:
        assert setting.type in (int, float)


def test_keys_are_unique_and_sections_ordered() -> None:
    keys = [s.key for s in REGISTRY]
    assert len(keys) == len(set(keys))
    order = [s for s, _ in SECTIONS]
    positions = [order.index(s.section) for s in REGISTRY]
    assert positions == sorted(positions), "registry entries must be grouped in SECTIONS order"
    assert all(schema.in_section(section) for section in order)


def test_required_keys_present() -> None:
    required = """audio.input_device audio.output_device audio.dsp_backend audio.aec_enabled
    audio.aec_tail_ms audio.ns_enabled audio.ns_level audio.agc_enabled audio.agc_target_dbfs
    audio.agc_max_gain_db audio.highpass_enabled audio.vad_threshold audio.vad_min_speech_ms
    audio.vad_min_silence_ms audio.chunk_ms audio.playback_prebuffer_ms
    audio.playback_max_buffer_ms audio.output_latency_ms session.provider session.url
    session.model session.voice session.instructions session.turn_mode session.turn_detection
    session.vad_threshold session.prefix_padding_ms session.silence_duration_ms
    session.semantic_eagerness session.noise_reduction session.input_transcription_model
    session.min_interruption_ms session.repair_policy session.context_turns session.truncation
    local.stt_engine local.tts_engine local.llm_url local.llm_model hotkey.enabled
    hotkey.push_to_talk hotkey.interrupt ui.start_minimized ui.close_to_tray log.level""".split()
    assert set(required) <= schema.keys()
    assert schema.get("audio.playback_prebuffer_ms").default == 0
    assert schema.get("hotkey.push_to_talk").default == "F9"
    assert schema.get("hotkey.interrupt").default == "F10"
    assert schema.SCHEMA_VERSION == 2


def test_applies_labels_are_user_facing() -> None:
    assert Applies.IMMEDIATELY.label == "takes effect now"
    assert Applies.STREAM_RESTART.label == "restarts audio"
    assert Applies.SESSION_RESTART.label == "reconnects the session"
    assert Applies.APP_RESTART.label == "after restarting VoxDesk"


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("audio.aec_tail_ms", 1000, "between 50 and 500 ms"),
        ("audio.aec_tail_ms", 205, "multiple of 10"),
        ("audio.aec_tail_ms", "200", "whole number"),
        ("audio.aec_tail_ms", True, "whole number"),
        ("audio.aec_enabled", 1, "on or off"),
        ("audio.vad_threshold", math.nan, "must be a number"),
        ("audio.vad_threshold", 0.99, "between 0.05 and 0.95"),
        ("audio.dsp_backend", "magic", "not one of the choices"),
        ("audio.ns_level", 7, "not one of the choices"),
        ("session.url", "http://example.com", "ws:// or wss://"),
        ("local.llm_url", "ftp://x", "http:// or https://"),
        ("hotkey.push_to_talk", "ctrl + ", "a key such as F9"),
        ("session.voice", None, "must be text"),
    ],
)
def test_invalid_values_raise_readable_errors(key: str, value: object, fragment: str) -> None:
    with pytest.raises(SettingError) as info:
        schema.validate(key, value)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert schema.get(key).label in str(info.value)


def test_valid_values_are_converted() -> None:
    assert schema.validate("audio.vad_threshold", 0.3) == pytest.approx(0.3)
    assert type(schema.validate("session.vad_threshold", 1)) is float
    assert schema.validate("audio.aec_tail_ms", 300.0) == 300
    assert type(schema.validate("audio.aec_tail_ms", 300.0)) is int
    assert schema.validate("session.url", "wss://api.openai.com/v1/realtime?model=x")
    assert schema.validate("hotkey.push_to_talk", "ctrl+shift+space") == "ctrl+shift+space"


def test_unknown_key() -> None:
    with pytest.raises(SettingError, match="no setting called"):
        schema.validate("audio.nope", 1)
    with pytest.raises(KeyError, match="audio.nope"):
        schema.get("audio.nope")


def test_plain_choices_are_normalised() -> None:
    s = Setting("x.y", str, "a", "X", "Help.", Applies.IMMEDIATELY, choices=("a", "b"))  # type: ignore[arg-type]
    assert s.choices == (("a", "a"), ("b", "b"))
    assert s.validate("b") == "b"
