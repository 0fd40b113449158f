"""Real-service rigs for tests and benchmarks: PulseAudio, Xvfb, Secret Service, speech fixtures.

Each rig starts isolated (temp dirs, private sockets, private env) and always tears down. The
pytest fixtures in ``tests/conftest.py`` wrap these classes; ``voxdesk bench`` uses them directly.
Submodules are imported on demand so that using one rig does not pull in the others.
"""

from __future__ import annotations

__all__ = [
    "PulseRig",
    "Recorder",
    "SecretService",
    "SpeechFixtures",
    "Xvfb",
]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.harness.pulse import PulseRig
    from app.harness.recorder import Recorder
    from app.harness.secret_service import SecretService
    from app.harness.speech import SpeechFixtures
    from app.harness.xvfb import Xvfb

_HOMES = {
    "PulseRig": "app.harness.pulse",
    "Recorder": "app.harness.recorder",
    "SecretService": "app.harness.secret_service",
    "SpeechFixtures": "app.harness.speech",
    "Xvfb": "app.harness.xvfb",
}


def __getattr__(name: str) -> Any:
    """Import a rig class lazily (PEP 562)."""
    import importlib

    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'app.harness' has no attribute {name!r}")
