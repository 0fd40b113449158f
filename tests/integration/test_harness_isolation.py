"""tests/conftest.py isolates every run from the developer's desktop, files and API keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "var",
    ["DISPLAY", "WAYLAND_DISPLAY", "PULSE_SERVER", "OPENAI_API_KEY", "GEMINI_API_KEY"],
)
def test_desktop_services_and_keys_are_not_inherited(
    var: str, isolated_environ: dict[str, str]
) -> None:
    assert var not in isolated_environ


def test_home_and_xdg_dirs_are_private_to_the_run() -> None:
    home = Path(os.environ["HOME"])
    assert home.name.startswith("voxdesk-test-home-")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        assert Path(os.environ[var]).is_relative_to(home), var
    assert Path.home() == home


def test_qt_runs_offscreen_by_default() -> None:
    assert os.environ["QT_QPA_PLATFORM"]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
