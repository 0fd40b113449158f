"""Where VoxDesk keeps its files: per-user platform directories (platformdirs), created on demand.

On Linux these follow the XDG base directories (``$XDG_CONFIG_HOME/voxdesk`` and so on), so tests
isolate themselves by pointing the ``XDG_*_HOME`` variables at temporary directories.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "voxdesk"
"""Directory name used under every platform base directory."""

SETTINGS_FILENAME = "settings.json"
"""Name of the settings file inside :func:`config_dir`."""


def _dirs() -> platformdirs.PlatformDirs:
    # Built per call so a changed XDG_* environment (tests) is honoured.
    return platformdirs.PlatformDirs(appname=APP_NAME, appauthor=False)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Return the per-user configuration directory, creating it if needed."""
    return _ensure(Path(_dirs().user_config_dir))


def data_dir() -> Path:
    """Return the per-user data directory (memory, transcripts), creating it if needed."""
    return _ensure(Path(_dirs().user_data_dir))


def log_dir() -> Path:
    """Return the per-user log directory, creating it if needed."""
    return _ensure(Path(_dirs().user_log_dir))


def cache_dir() -> Path:
    """Return the per-user cache directory, creating it if needed."""
    return _ensure(Path(_dirs().user_cache_dir))


def default_settings_path() -> Path:
    """Return the path of the settings file used when ``--config`` is not given."""
    return config_dir() / SETTINGS_FILENAME
