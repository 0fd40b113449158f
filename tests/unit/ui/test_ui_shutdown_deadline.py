"""Quitting always works: a shutdown stuck past the deadline dumps stacks and exits anyway."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import threading
    from PySide6.QtCore import QTimer
    import ui.application as application
    from app.secrets import SecretStore
    from tests.helpers.memory_keyring import MemoryKeyring
    from tests.unit.ui.conftest import RecordingCore
    from ui.hotkey.none import NoHotkeyBackend

    application.SHUTDOWN_DEADLINE_S = 0.5
    app = application.create_application([])
    core = RecordingCore(secrets=SecretStore(service="voxdesk-test", backend=MemoryKeyring()))
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
)


def test_a_stuck_shutdown_is_cut_off_at_the_deadline_with_stacks_on_stderr() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not reached" not in result.stdout
    assert "quitting is taking too long" in result.stderr
    assert "stop_that_never_returns" in result.stderr  # where it was stuck


STUCK_LOOP = textwrap.dedent(
    """
    import os, signal, sys, threading
    from PySide6.QtCore import QTimer
    import ui.application as application
    from app.secrets import SecretStore
    from tests.helpers.memory_keyring import MemoryKeyring
    from tests.unit.ui.conftest import RecordingCore
    from ui.hotkey.none import NoHotkeyBackend

    application.SIGNAL_DEADLINE_S = 0.5
    app = application.create_application([])
    core = RecordingCore(secrets=SecretStore(service="voxdesk-test", backend=MemoryKeyring()))

    def the_gui_thread_gets_stuck():
        threading.Timer(0.2, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
        never = threading.Event()
        while True:  # a slot that never returns to the event loop
            never.wait(0.01)

    QTimer.singleShot(100, the_gui_thread_gets_stuck)
    application.run(core, start_minimized=False, hotkey_factory=lambda: NoHotkeyBackend("t"))
    print("not reached: run() returned")
    """
)


def test_sigterm_ends_the_process_even_when_the_gui_thread_is_stuck() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", STUCK_LOOP],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "quitting is taking too long" in result.stderr
    assert "the_gui_thread_gets_stuck" in result.stderr  # where the GUI thread was
