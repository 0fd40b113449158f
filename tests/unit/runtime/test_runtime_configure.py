"""Settings → part configs: every choice the registry offers maps to a valid config."""

from __future__ import annotations

import pytest

from app.runtime.configure import (
    OPENAI_BASE_URL,
    audio_config,
    dsp_config,
    endpoint_for,
    session_config,
)
from app.session.config import RepairPolicy, TurnMode, VadKind, realtime_url
from app.settings.schema import REGISTRY
from app.settings.snapshot import Settings

_CONSUMED_SECTIONS = ("audio.", "session.")


def _choice_variants() -> list[tuple[str, object]]:
    return [
        (setting.key, value)
        for setting in REGISTRY
        if setting.key.startswith(_CONSUMED_SECTIONS)
        for value in setting.choice_values
    ]


def test_defaults_build_every_config() -> None:
    settings = Settings.defaults()
    audio = audio_config(settings)
    dsp = dsp_config(settings)
    session = session_config(settings, endpoint_for(settings))
    assert audio.block_ms == 10
    assert dsp.backend == settings.get_str("audio.dsp_backend")
    assert session.provider == "local"


@pytest.mark.parametrize(("key", "value"), _choice_variants())
def test_every_choice_maps_to_a_valid_config(key: str, value: object) -> None:
    settings = Settings.defaults().with_changes({key: value})
    audio_config(settings)
    dsp_config(settings)
    session_config(settings, endpoint_for(settings))


@pytest.mark.parametrize("key", [s.key for s in REGISTRY if s.key.startswith(_CONSUMED_SECTIONS)])
def test_range_extremes_map_to_valid_configs(key: str) -> None:
    setting = next(s for s in REGISTRY if s.key == key)
    for bound in (setting.minimum, setting.maximum):
        if bound is None:
            continue
        settings = Settings.defaults().with_changes({key: setting.type(bound)})
        audio_config(settings)
        dsp_config(settings)
        session_config(settings, endpoint_for(settings))


def test_settings_values_reach_the_session_config() -> None:
    settings = Settings.defaults().with_changes(
        {
            "session.provider": "openai",
            "session.turn_mode": "hands_free",
            "session.turn_detection": "semantic_vad",
            "session.semantic_eagerness": "high",
            "session.noise_reduction": "off",
            "session.repair_policy": "none",
            "session.min_interruption_ms": 450,
        }
    )
    endpoint = endpoint_for(settings)
    config = session_config(settings, endpoint)
    assert endpoint.base_url == OPENAI_BASE_URL
    assert config.turn_mode is TurnMode.HANDS_FREE
    assert config.vad is VadKind.SEMANTIC_VAD
    assert config.semantic_vad.eagerness == "high"
    assert config.noise_reduction is None
    assert config.repair is RepairPolicy.NONE
    assert config.min_interruption_ms == 450
    assert realtime_url(config).startswith("wss://api.openai.com/v1/realtime?model=")


def test_custom_provider_accepts_a_full_websocket_url() -> None:
    settings = Settings.defaults().with_changes(
        {"session.provider": "custom", "session.url": "ws://127.0.0.1:9000/v1/realtime"}
    )
    config = session_config(settings, endpoint_for(settings))
    assert realtime_url(config) == "ws://127.0.0.1:9000/v1/realtime"
