"""PySide6 6.12 on CPython 3.11 drops references to None/True/False; importing ui pins them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[3]

CHURN = """
import sys
{prelude}
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
class O(QObject):
    s = Signal(object)
o = O()
o.s.connect(lambda v: None)
for _ in range(300_000):
    label.setText("x")   # void call: drops a reference to None on the affected build
    o.s.emit(1)          # drops one to True/False on the affected build
print("survived", sys.getrefcount(None) > 0)
"""


def _churn(prelude: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHURN.format(prelude=prelude)],
        cwd=REPO,
        env={"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_ui_keeps_the_process_alive_through_many_qt_calls():
    result = _churn("import ui")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived True" in result.stdout


def test_without_the_guard_this_build_aborts():
    result = _churn("")
    if sys.version_info >= (3, 12):  # None/True/False are immortal there: nothing to guard
        assert result.returncode == 0
    else:
        assert result.returncode != 0
        assert "deallocating" in result.stderr
