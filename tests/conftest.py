"""Suite-wide isolation and the real-service fixtures (PulseAudio, Xvfb, Secret Service, speech).

At import, before anything creates a QApplication, this module:

- sets ``QT_QPA_PLATFORM=offscreen`` (unless the caller chose a platform);
- removes ``DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS PULSE_SERVER`` (and
  ``PULSE_RUNTIME_PATH``) so no test reaches the developer's desktop services;
- points HOME, the XDG base dirs and XDG_RUNTIME_DIR at a per-run temp dir (removed at the end
  of the run), so tests never touch the user's files;
- keeps the speech-fixture cache persistent: ``VOXDESK_FIXTURE_CACHE``, by default
  ``<repo>/.cache/fixtures``;
- removes API keys (``OPENAI_API_KEY``, ``GEMINI_API_KEY``) and any forced keyring backend.

Service fixtures are session-scoped and lazy: only tests that request them pay for start-up.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Pins None/True/False before any test touches Qt: PySide6 6.12 on CPython 3.11 drops references
# to them on every void call and a long run would abort (see ui/refcount_guard.py).
import ui  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _var in (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "PULSE_SERVER",
    "PULSE_RUNTIME_PATH",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_BASE_URL",
    "PYTHON_KEYRING_BACKEND",
):
    os.environ.pop(_var, None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VOXDESK_FIXTURE_CACHE", str(REPO_ROOT / ".cache" / "fixtures"))

RUN_HOME = Path(tempfile.mkdtemp(prefix="voxdesk-test-home-"))
os.environ["HOME"] = str(RUN_HOME)
for _var, _sub in (
    ("XDG_CONFIG_HOME", ".config"),
    ("XDG_DATA_HOME", ".local/share"),
    ("XDG_CACHE_HOME", ".cache"),
    ("XDG_STATE_HOME", ".local/state"),
):
    (RUN_HOME / _sub).mkdir(parents=True, exist_ok=True)
    os.environ[_var] = str(RUN_HOME / _sub)
(RUN_HOME / "runtime").mkdir(mode=0o700)
os.environ["XDG_RUNTIME_DIR"] = str(RUN_HOME / "runtime")


@pytest.hookimpl(trylast=True)  # after the runner has torn down session fixtures
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a harness process outlived its fixture (and stop it)."""
    procs = sys.modules.get("app.harness.procs")
    if procs is None:
        return
    leaked = procs.live_processes()
    names = ", ".join(repr(p) for p in leaked)
    for proc in leaked:
        proc.stop(timeout=2.0)
    if leaked:
        sys.stderr.write(f"\nharness processes outlived their fixtures: {names}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(RUN_HOME, ignore_errors=True)


if TYPE_CHECKING:
    from app.harness.pulse import PulseRig
    from app.harness.recorder import Recorder
    from app.harness.secret_service import SecretService
    from app.harness.speech import SpeechFixtures
    from app.harness.xvfb import Xvfb


# The environment as isolated above, before any rig fixture activated itself (a session-scoped
# rig puts PULSE_SERVER and friends into os.environ for the tests that use it).
ISOLATED_ENVIRON = dict(os.environ)


@pytest.fixture(scope="session")
def isolated_environ() -> dict[str, str]:
    """A copy of the environment every test run starts from."""
    return dict(ISOLATED_ENVIRON)


@pytest.fixture(scope="session")
def pulse_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """A private PulseAudio (speaker / micfeed / mic), activated for this process's PortAudio."""
    from app.harness.pulse import PulseRig

    rig = PulseRig.start(tmp_path_factory.mktemp("pulse"))
    try:
        rig.activate()
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def isolated_pulse_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """A PulseAudio rig of this test's own (for kill/restart), activated; then restores the env."""
    from app.harness.pulse import PulseRig

    rig = PulseRig.start(tmp_path_factory.mktemp("pulse-own"))
    try:
        rig.activate()
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def monitor_recorder(pulse_rig: PulseRig) -> Iterator[Recorder]:
    """An ear on ``speaker.monitor``, already delivering audio; stopped after the test."""
    rec = pulse_rig.record_monitor("speaker.monitor")
    try:
        rec.wait_started(timeout=10.0)
        yield rec
    finally:
        rec.close()


@pytest.fixture(scope="session")
def xvfb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xvfb]:
    """A private Xvfb (1280x800x24). Not put in ``os.environ``: pass ``xvfb.env`` to children."""
    from app.harness.xvfb import Xvfb

    server = Xvfb.start(tmp_path_factory.mktemp("xvfb"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    """A private D-Bus session with an unlocked gnome-keyring; activated in ``os.environ``."""
    from app.harness.secret_service import SecretService

    service = SecretService.start(tmp_path_factory.mktemp("secrets"))
    try:
        service.activate()
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def speech() -> SpeechFixtures:
    """Cached synthetic speech (espeak-ng / flite / festival) as mono 16-bit WAV files."""
    from app.harness.speech import SpeechFixtures

    return SpeechFixtures()
