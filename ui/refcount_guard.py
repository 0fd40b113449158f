"""Keeps ``None``, ``True`` and ``False`` alive under PySide6 6.12 on CPython 3.11.

Measured on this build (PySide6-Essentials 6.12.0, abi3 wheel, CPython 3.11.7): every call of a
``void`` Qt method from Python (``QLabel.setText``, ``QPainter.setPen``, ...) drops one
reference to ``None``, and a signal ``emit`` drops one to ``True``/``False``, without ever
taking it. After some tens of thousands of calls (a few minutes of a 30 Hz repaint) CPython
aborts with "none_dealloc: deallocating None". CPython 3.12+ makes these objects immortal (and
never counts them); on 3.11 we give them a reference count so large that no run can exhaust it.
The objects are static in the interpreter, so an inflated count costs nothing.
"""

from __future__ import annotations

import ctypes
import sys

_PINNED_REFS = 1 << 48  # at a million dropped references a second: ~9 years
_done = False


def pin_singletons() -> None:
    """Give ``None``/``True``/``False`` an effectively infinite reference count (once)."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object (release builds).
        ctypes.c_ssize_t.from_address(id(obj)).value += _PINNED_REFS
    _done = True
