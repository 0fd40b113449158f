"""PyInstaller runtime hook: sounddevice finds the bundled PortAudio when the system has none.

sounddevice looks PortAudio up with ``ctypes.util.find_library("portaudio")``, which searches only
system paths. The system library is preferred (it matches the system's ALSA configuration and
plugins); the copy PyInstaller put in the bundle is the fallback, so a machine without
``libportaudio2`` still gets sound instead of ``OSError: PortAudio library not found``.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable

_BUNDLED_NAME = "libportaudio.so.2"


def _install() -> None:
    bundle_dir = getattr(sys, "_MEIPASS", None)
    if bundle_dir is None:
        return
    bundled = os.path.join(bundle_dir, _BUNDLED_NAME)
    if not os.path.exists(bundled):
        return
    system_find: Callable[[str], str | None] = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        found = system_find(name)
        if found is None and name == "portaudio":
            return bundled
        return found

    ctypes.util.find_library = find_library


_install()
