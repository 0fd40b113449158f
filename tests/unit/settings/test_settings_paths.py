from __future__ import annotations

from pathlib import Path

import pytest

from app import paths


def test_platform_dirs_follow_xdg_and_are_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    assert paths.config_dir() == tmp_path / "xdg_config_home" / "voxdesk"
    assert paths.data_dir() == tmp_path / "xdg_data_home" / "voxdesk"
    assert paths.cache_dir() == tmp_path / "xdg_cache_home" / "voxdesk"
    assert paths.log_dir().is_relative_to(tmp_path / "xdg_state_home" / "voxdesk")
    for directory in (paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()):
        assert directory.is_dir()
    assert paths.default_settings_path() == paths.config_dir() / "settings.json"
