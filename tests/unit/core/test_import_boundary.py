"""The core (app/) never loads Qt: importing every app module leaves PySide6 unloaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_importing_every_app_module_loads_no_pyside6() -> None:
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import app
        failed = []
        for info in pkgutil.walk_packages(app.__path__, prefix="app."):
            if info.name == "app.__main__":  # running it would start the app
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # an optional engine missing must not hide a Qt import
                failed.append(f"{info.name}: {exc!r}")
        qt = sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "shiboken6"))
        print("QT:" + ",".join(qt))
        print("FAILED:" + " | ".join(failed))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert lines["QT"] == "", f"app/ loaded Qt modules: {lines['QT']}"
    assert lines["FAILED"] == "", f"app modules failed to import: {lines['FAILED']}"


def test_ruff_bans_pyside6_in_app(tmp_path: Path) -> None:
    offender = REPO / "app" / "_tmp_boundary_probe.py"
    offender.write_text('"""Probe."""\n\nfrom PySide6 import QtCore  # noqa: F401\n')
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--select", "TID251", str(offender)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        offender.unlink()
    assert result.returncode != 0
    assert "TID251" in result.stdout
