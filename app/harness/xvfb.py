"""Xvfb: a private virtual X display (``-displayfd``, ``-noreset``), screenshots, a tray host.

The server picks a free display number itself and reports it on a pipe (``-displayfd``), so
parallel runs never collide. ``-noreset`` keeps the server from resetting when its last client
disconnects (a reset breaks clients that still hold a connection, e.g. pynput's listener).
The display is not put into ``os.environ``: the test process runs Qt offscreen, and a DISPLAY
there would make a locked gnome-keyring hang. Pass ``env`` to the children that need X.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time
from pathlib import Path

from app.harness.procs import (
    HarnessError,
    HarnessTimeout,
    ManagedProcess,
    private_env,
    run_checked,
    spawn,
    wait_until,
)

log = logging.getLogger("app.harness")

IMPORT = "/usr/bin/import"  # ImageMagick; /usr/local/bin/convert on this machine is a stand-in.
SCREEN = "1280x800x24"


class Xvfb:
    """A running Xvfb server; start it with ``Xvfb.start(base_dir)``.

    Attributes:
        base_dir: Directory for logs.
        display: The display name, e.g. ``":7"``.
        env: ``{"DISPLAY": display}``.
        width: Screen width in pixels.
        height: Screen height in pixels.
    """

    def __init__(self, base_dir: Path, proc: ManagedProcess, display: str, screen: str) -> None:
        self.base_dir = base_dir
        self._proc = proc
        self.display = display
        self.env: dict[str, str] = {"DISPLAY": display}
        w, h, _depth = screen.split("x")
        self.width = int(w)
        self.height = int(h)
        self._tray: ManagedProcess | None = None

    @classmethod
    def start(
        cls, base_dir: Path | None = None, screen: str = SCREEN, timeout: float = 10.0
    ) -> Xvfb:
        """Start Xvfb on a free display and wait until it accepts connections.

        Args:
            base_dir: Directory for the server log (a temp dir when None).
            screen: ``WxHxDEPTH`` of screen 0.
            timeout: Seconds to wait for the display number and for readiness.

        Returns:
            The running server.
        """
        if base_dir is None:
            import tempfile

            base_dir = Path(tempfile.mkdtemp(prefix="voxdesk-xvfb-"))
        base_dir.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        argv = [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            screen,
            "-nolisten",
            "tcp",
            "-noreset",
        ]
        try:
            proc = spawn(
                "Xvfb",
                argv,
                env=private_env(),
                log_path=base_dir / "xvfb.log",
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        try:
            number = _read_display_number(read_fd, proc, timeout)
        except BaseException:
            proc.stop()
            raise
        finally:
            os.close(read_fd)
        server = cls(base_dir, proc, f":{number}", screen)
        try:
            wait_until(
                lambda: server.xdotool("getdisplaygeometry").strip(),
                timeout=timeout,
                what=f"Xvfb {server.display} to accept clients",
                alive=proc.check_alive,
            )
        except BaseException:
            server.stop()
            raise
        log.info("Xvfb ready on %s (pid %d)", server.display, proc.pid)
        return server

    @property
    def pid(self) -> int:
        """Process id of the X server."""
        return self._proc.pid

    def running(self) -> bool:
        """Return True while the X server is alive."""
        return self._proc.running()

    def client_env(self) -> dict[str, str]:
        """Return a complete child environment that reaches this display (and no other service)."""
        return private_env(self.env)

    def xdotool(self, *args: str, timeout: float = 5.0) -> str:
        """Run ``xdotool`` on this display and return its output."""
        return run_checked(["xdotool", *args], env=self.client_env(), timeout=timeout)

    def screenshot(self, path: Path, timeout: float = 10.0) -> Path:
        """Save the whole screen as an image (format from the suffix, e.g. ``.png``).

        Returns:
            ``path``.
        """
        run_checked([IMPORT, "-window", "root", str(path)], env=self.client_env(), timeout=timeout)
        if not path.exists() or path.stat().st_size == 0:
            raise HarnessError(f"screenshot {path} was not written")
        return path

    def start_tray(self, timeout: float = 10.0) -> None:
        """Start ``trayer`` (an XEmbed system-tray host) so ``QSystemTrayIcon`` finds a tray."""
        if self._tray is not None and self._tray.running():
            return
        argv = [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "pixel",
            "--width",
            "120",
            "--height",
            "32",
            "--transparent",
            "false",
        ]
        self._tray = spawn(
            "trayer", argv, env=self.client_env(), log_path=self.base_dir / "trayer.log"
        )
        tray = self._tray
        wait_until(
            lambda: self.xdotool("search", "--class", "trayer").strip(),
            timeout=timeout,
            what="the trayer window",
            alive=tray.check_alive,
        )

    def stop(self) -> None:
        """Stop the tray host (if any) and the X server. Idempotent."""
        if self._tray is not None:
            self._tray.stop(timeout=2.0)
        self._proc.stop(timeout=5.0)

    def __enter__(self) -> Xvfb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Xvfb(display={self.display!r}, running={self.running()})"


def _read_display_number(fd: int, proc: ManagedProcess, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HarnessTimeout(f"Xvfb reported no display within {timeout} s")
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if ready:
            chunk = os.read(fd, 64)
            if not chunk:
                break
            data += chunk
        else:
            proc.check_alive()
    with contextlib.suppress(ValueError):
        return int(data.strip())
    proc.check_alive()
    raise HarnessError(f"Xvfb wrote no display number ({data!r}); log:\n{proc.log_tail()}")
