"""The Xvfb rig, for real: private display, screenshot of the right size, tray host for Qt."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app.harness.procs import private_env, session_members
from app.harness.xvfb import Xvfb

pytestmark = pytest.mark.slow


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_xvfb_screenshot_is_a_png_of_the_screen_size(xvfb: Xvfb, tmp_path: Path) -> None:
    assert xvfb.display.startswith(":")
    assert xvfb.xdotool("getdisplaygeometry").split() == ["1280", "800"]
    shot = xvfb.screenshot(tmp_path / "screen.png")
    assert shot.stat().st_size > 0
    assert _png_size(shot) == (1280, 800)


def test_tray_host_makes_qt_see_a_system_tray(xvfb: Xvfb) -> None:
    probe = (
        "from PySide6.QtWidgets import QApplication, QSystemTrayIcon\n"
        "app = QApplication([])\n"
        "print(QSystemTrayIcon.isSystemTrayAvailable())\n"
    )
    env = private_env({**xvfb.env, "QT_QPA_PLATFORM": "xcb"})
    before = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, timeout=60, check=True
    )
    xvfb.start_tray()
    after = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, timeout=60, check=True
    )
    assert before.stdout.strip() == b"False"
    assert after.stdout.strip() == b"True"


def test_xvfb_teardown_leaves_nothing_behind(tmp_path: Path) -> None:
    server = Xvfb.start(tmp_path / "x")
    pid = server.pid
    server.start_tray()
    assert server.running()
    assert session_members(pid) != []
    server.stop()
    server.stop()  # idempotent
    assert session_members(pid) == []
    assert not Path(f"/proc/{pid}").exists()
