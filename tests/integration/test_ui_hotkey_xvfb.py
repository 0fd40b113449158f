"""The X11 global hotkey under Xvfb: xdotool keydown/keyup while another window has focus.

The hotkey side runs in a subprocess (its own X connections and Qt objects): the real
``HotkeyService`` with the pynput backend and the real ``Bridge``; its core prints each command
it receives, with the thread it arrived on.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.harness.procs import ManagedProcess, spawn, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.gui]

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import sys, threading
from PySide6.QtCore import QCoreApplication
from ui.bridge import Bridge
from ui.hotkey.base import HotkeyDispatcher
from ui.hotkey.factory import HotkeyService
from ui.hotkey.x11 import PynputBackend

class PrintingCore:
    settings_store = None
    secrets = None
    def submit(self, command):
        print("CMD", type(command).__name__, threading.current_thread().name, flush=True)
    def subscribe(self, observer):
        pass
    def telemetry(self):
        return None
    def latency(self):
        return None

app = QCoreApplication([])
bridge = Bridge(PrintingCore())
service = HotkeyService(
    HotkeyDispatcher(bridge.press_to_talk, bridge.release_to_talk, bridge.interrupt),
    PynputBackend,
)
service.apply(True, "F9", "ctrl+F10")
print("READY", service.backend.name, flush=True)
sys.stdin.read()  # the test closes stdin to stop us
service.stop()
print("STOPPED", flush=True)
"""


class Lines:
    """Lines from a child's stdout, read on a thread, awaited with a deadline."""

    def __init__(self, proc: ManagedProcess) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, name="probe-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.popen.stdout is not None
        for raw in self.proc.popen.stdout:
            self._q.put(raw.decode().strip())

    def _drain(self) -> None:
        while True:
            try:
                self.seen.append(self._q.get_nowait())
            except queue.Empty:
                return

    def wait_for(self, prefix: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        def ready() -> list[str] | None:
            self._drain()
            hits = [line for line in self.seen if line.startswith(prefix)]
            return hits if len(hits) >= count else None

        return wait_until(ready, timeout=timeout, what=f"{count}× {prefix!r} from the probe")


@pytest.fixture
def focused_other_window(xvfb):
    """An xmessage window that has the keyboard focus (VoxDesk is in the background)."""
    proc = spawn(
        "xmessage",
        ["xmessage", "-title", "other-app", "Another application has the focus"],
        env=xvfb.client_env(),
    )
    try:
        wid = wait_until(
            lambda: xvfb.xdotool("search", "--name", "^other-app$").split()[0],
            timeout=10,
            what="the xmessage window",
            alive=proc.check_alive,
        )
        xvfb.xdotool("windowfocus", "--sync", wid)
        yield wid
    finally:
        proc.stop(timeout=2.0)


def test_global_push_to_talk_and_interrupt_while_another_window_has_focus(
    xvfb, focused_other_window, tmp_path
):
    env = xvfb.client_env()
    env.update(PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    proc = spawn(
        "hotkey-probe",
        [sys.executable, "-c", PROBE],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        log_path=tmp_path / "probe.log",
        cwd=REPO,
    )
    try:
        lines = Lines(proc)
        assert lines.wait_for("READY")[0] == "READY x11"
        assert xvfb.xdotool("getwindowfocus").strip() == focused_other_window

        xvfb.xdotool("keydown", "F9")
        lines.wait_for("CMD PushToTalkPressed")
        for _ in range(5):  # what X auto-repeat delivers while the key is held
            xvfb.xdotool("keydown", "F9")
        xvfb.xdotool("keyup", "F9")
        lines.wait_for("CMD PushToTalkReleased")

        xvfb.xdotool("keydown", "F10")  # without ctrl: not the interrupt key
        xvfb.xdotool("keyup", "F10")
        xvfb.xdotool("key", "ctrl+F10")
        lines.wait_for("CMD Interrupt")

        commands = [line for line in lines.seen if line.startswith("CMD")]
        assert commands == [
            "CMD PushToTalkPressed hotkey-x11",
            "CMD PushToTalkReleased hotkey-x11",
            "CMD Interrupt hotkey-x11",
        ]
        # The keys went to the focused application, not to a window of ours.
        assert xvfb.xdotool("getwindowfocus").strip() == focused_other_window

        assert proc.popen.stdin is not None
        proc.popen.stdin.close()
        xvfb.xdotool("key", "shift")  # pynput's listener thread ends on its next event
        lines.wait_for("STOPPED")
        wait_until(lambda: not proc.running(), timeout=10, what="the probe to exit")
        assert proc.popen.returncode == 0, proc.log_tail()
    finally:
        proc.stop(timeout=3.0)
