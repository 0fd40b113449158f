"""QApplication set-up, exception hooks on every thread, and the GUI entry points.

``main`` is the GUI entry point (``voxdesk`` with no subcommand, and ``voxdesk-gui``);
``launch(args)`` builds the real core and ``run(core)`` shows the GUI for any
:class:`ui.bridge.CoreFacade`.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui.bridge import CoreFacade
from ui.crash_dialog import CrashReporter
from ui.hotkey.base import HotkeyBackend
from ui.hotkey.factory import choose_backend
from ui.resources import app_icon
from ui.shell import Shell
from ui.tray import TrayFactory, default_tray_factory

log = logging.getLogger("ui")

START_JOIN_TIMEOUT_S = 30.0
# Quitting must always work: if stopping the parts takes longer than this (a native library
# stuck in a call), the threads' stacks go to stderr and the process exits anyway.
SHUTDOWN_DEADLINE_S = 10.0
# From a quit signal to the end of the process, whatever the GUI thread is doing.
SIGNAL_DEADLINE_S = 15.0
STARTUP_MARK_ENV = "VOXDESK_STARTUP_MARK"
"""If set, the monotonic time the window was first shown is printed as ``VOXDESK_SHOWN <t>``."""


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """Return the process's QApplication, creating it with VoxDesk's names and icon."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("VoxDesk")
    app.setOrganizationName("VoxDesk")
    app.setDesktopFileName("voxdesk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the tray keeps running; quitting is explicit
    return app


def install_signal_handlers(app: QApplication) -> QTimer:
    """Quit cleanly on SIGINT/SIGTERM; returns the timer that lets Python see signals."""

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: quitting", signum)
        app.quit()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    _watch_quit_signals()
    # Python runs signal handlers only between bytecodes; a light timer wakes it up.
    timer = QTimer(app)
    timer.setInterval(200)
    timer.timeout.connect(lambda: None)
    timer.start()
    return timer


def _watch_quit_signals() -> None:
    """Make SIGTERM/SIGINT end the process even if the GUI thread is stuck.

    The Python handler above only runs when the GUI thread gets back to Python. The C-level
    handler also writes the signal number to a wake-up pipe at once; a watcher thread reading
    it arms a deadline that dumps every thread's stack and exits if the process is still alive.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)

    def watch() -> None:
        while data := os.read(read_end, 16):
            if signal.SIGTERM in data or signal.SIGINT in data:
                deadline = threading.Timer(SIGNAL_DEADLINE_S, _force_exit, args=(lambda: 0,))
                deadline.daemon = True
                deadline.start()
                return

    threading.Thread(target=watch, name="quit-signal-watch", daemon=True).start()


def run(
    core: CoreFacade,
    argv: Sequence[str] | None = None,
    *,
    start_minimized: bool | None = None,
    tray_factory: TrayFactory = default_tray_factory,
    hotkey_factory: Callable[[], HotkeyBackend] = choose_backend,
    start_core: Callable[[], None] | None = None,
    stop_core: Callable[[], None] | None = None,
    on_shown: Callable[[], None] | None = None,
) -> int:
    """Show the GUI for ``core`` and run the Qt event loop until the user quits.

    The window is shown first; ``start_core`` (models, audio, session) then runs on a
    ``core-start`` thread, so the window is visible at once and loading shows as progress.

    Args:
        core: the core (``app.runtime.core.Core`` implements :class:`ui.bridge.CoreFacade`).
        argv: arguments for QApplication.
        start_minimized: override ``ui.start_minimized``.
        tray_factory: builds the tray (tests replace it).
        hotkey_factory: builds the global hotkey backend.
        start_core: starts the core; runs on its own thread once the window is up.
        stop_core: stops the core after the event loop ends (GUI thread).
        on_shown: called once the window has been shown (startup probes).

    Returns:
        The event loop's exit code.
    """
    app = create_application(argv)
    reporter = CrashReporter(app)
    uninstall = reporter.install()
    _keep = install_signal_handlers(app)
    shell = Shell(
        core, tray_factory=tray_factory, hotkey_factory=hotkey_factory, crash_reporter=reporter
    )
    shell.show(start_minimized)
    starter: threading.Thread | None = None

    def shown() -> None:
        nonlocal starter
        if os.environ.get(STARTUP_MARK_ENV):
            print(f"VOXDESK_SHOWN {time.monotonic():.6f}", flush=True)
        if on_shown is not None:
            on_shown()
        if start_core is not None:
            starter = threading.Thread(target=start_core, name="core-start", daemon=True)
            starter.start()

    QTimer.singleShot(0, shown)
    code = 0
    try:
        code = app.exec()
        return code
    finally:
        deadline = threading.Timer(SHUTDOWN_DEADLINE_S, _force_exit, args=(lambda: code,))
        deadline.daemon = True
        deadline.start()
        shell.shutdown()
        if starter is not None:
            starter.join(START_JOIN_TIMEOUT_S)
        if stop_core is not None:
            stop_core()
        deadline.cancel()
        uninstall()
        del _keep


def _force_exit(code: Callable[[], int]) -> None:
    """Shutdown overran ``SHUTDOWN_DEADLINE_S``: show where it is stuck, then exit anyway."""
    log.error("quitting is taking too long; exiting without finishing the shutdown")
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    logging.shutdown()
    os._exit(code())


def launch(args: argparse.Namespace) -> int:
    """Build the real core from the command line's settings and run the GUI for it.

    ``args`` comes from ``app.cli.main`` (``settings_store``, ``startup_notices``).
    """
    from app.runtime.core import Core
    from app.secrets import SecretStore

    holder: list[Core] = []
    secrets = SecretStore(notify=lambda notice: holder[0].publish(notice) if holder else None)
    core = Core(args.settings_store, secrets)
    holder.append(core)
    create_application()
    for notice in getattr(args, "startup_notices", ()) or ():
        core.publish(notice)  # replayed by the bridge once the window exists
    return run(core, start_core=core.start, stop_core=core.stop)


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """The GUI entry point.

    With the parsed ``voxdesk`` command line (``app.cli.main`` with no subcommand) it builds the
    core and runs the GUI; with a plain argument list (the ``voxdesk-gui`` script) it goes
    through ``app.cli.main``, which loads the settings and comes back here.
    """
    if isinstance(args, argparse.Namespace):
        return launch(args)
    from app.cli import main as cli_main

    return cli_main(list(args) if args is not None else sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
