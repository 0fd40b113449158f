"""Quitting always works: a shutdown stuck past the deadline dumps stacks and exits anyway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[3]

IMPORTS = """
import os, signal, sys, threading
from PySide6.QtCore import QTimer
import ui.application as application
from app.secrets import SecretStore
from tests.helpers.memory_keyring import MemoryKeyring
from tests.unit.ui.conftest import RecordingCore
from ui.hotkey.none import NoHotkeyBackend
"""

APP = """
app = application.create_application([])
core = RecordingCore(secrets=SecretStore(service="voxdesk-test", backend=MemoryKeyring()))
"""

# The shutdown (stop_core) hangs after a normal quit.
STUCK_SHUTDOWN = """
QTimer.singleShot(200, app.quit)
stuck = threading.Event()

def stop_that_never_returns():
    stuck.wait()  # a native call that hangs

application.run(
    core,
    start_minimized=False,
    hotkey_factory=lambda: NoHotkeyBackend("test"),
    stop_core=stop_that_never_returns,
)
print("not reached: run() returned")
"""

# SIGTERM arrives while a slot never returns to the event loop.
STUCK_LOOP = """
def the_gui_thread_gets_stuck():
    threading.Timer(0.2, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
    never = threading.Event()
    while True:  # a slot that never returns to the event loop
        never.wait(0.01)

QTimer.singleShot(100, the_gui_thread_gets_stuck)
application.run(core, start_minimized=False, hotkey_factory=lambda: NoHotkeyBackend("t"))
print("not reached: run() returned")
"""


@pytest.mark.parametrize(
    ("deadline", "scene", "stuck_in"),
    [
        ("SHUTDOWN_DEADLINE_S", STUCK_SHUTDOWN, "stop_that_never_returns"),
        ("SIGNAL_DEADLINE_S", STUCK_LOOP, "the_gui_thread_gets_stuck"),
    ],
    ids=["stuck-shutdown", "sigterm-with-stuck-gui-thread"],
)
def test_quitting_is_cut_off_at_the_deadline_with_stacks_on_stderr(
    deadline: str, scene: str, stuck_in: str
) -> None:
    script = IMPORTS + f"application.{deadline} = 0.5\n" + APP + scene
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not reached" not in result.stdout
    assert "quitting is taking too long" in result.stderr
    assert stuck_in in result.stderr  # where it was stuck
