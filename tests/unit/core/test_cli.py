"""The ``voxdesk`` command line: version, help, and every registered command is reachable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app import __version__
from app.cli import COMMANDS, build_parser


def test_version_flag_prints_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_every_command_module_exists_and_has_entry_points() -> None:
    import importlib

    for name, (module_name, _help) in COMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments), name
        assert callable(module.run), name


def test_console_script_runs_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == f"voxdesk {__version__}"
