"""Global hotkeys: a small backend protocol with one module per mechanism (X11, portal, none)."""

from __future__ import annotations
