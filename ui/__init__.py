"""The VoxDesk desktop GUI (PySide6).

Everything Qt lives here; the core (``app/``) stays Qt-free. ``ui.bridge`` is the only place where
core events become Qt signals and Qt actions become core commands.

Importing ``ui`` first pins ``None``/``True``/``False`` (see ``ui.refcount_guard``): PySide6 6.12
on CPython 3.11 drops references to them on every void call, which would abort the process.
"""

from __future__ import annotations

from ui.refcount_guard import pin_singletons

pin_singletons()
