"""PyInstaller runtime hook: give child processes the user's library path, not the bundle's.

The bootloader prepends the bundle directory to ``LD_LIBRARY_PATH`` so the frozen interpreter
finds its libraries, and keeps the original value in ``LD_LIBRARY_PATH_ORIG``. The dynamic loader
has already read the variable when this hook runs, so restoring it changes only what system
programs started by VoxDesk see (``pactl``, ``espeak-ng``, ``flite``, ``xdg-open``): without this
they would load the bundle's copies of libasound, libpulse or libstdc++ instead of their own.
"""

from __future__ import annotations

import os
import sys


def _restore() -> None:
    if getattr(sys, "_MEIPASS", None) is None:
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


_restore()
