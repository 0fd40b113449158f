"""SecretService: a private D-Bus session bus with an unlocked gnome-keyring (Secret Service API).

Start order: ``dbus-daemon --session --nofork --print-address=1`` on a socket in the rig's dir,
then ``gnome-keyring-daemon --foreground --unlock --components=secrets`` with a random password on
stdin. DISPLAY is removed from the keyring's environment: with a DISPLAY, a locked keyring opens
an invisible prompt and every keyring call hangs. Ready when ``org.freedesktop.secrets`` has an
owner on the bus. The password is never logged or shown in a repr.
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import shutil
import subprocess
import tempfile
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

SECRETS_NAME = "org.freedesktop.secrets"
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; keep a margin.


class SecretService:
    """A private session bus plus gnome-keyring; start it with ``SecretService.start(base_dir)``.

    Attributes:
        base_dir: Directory holding the bus socket, the keyring's HOME and the logs.
        address: The bus address (``unix:path=...``).
        env: ``{"DBUS_SESSION_BUS_ADDRESS": address}``.
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.address = ""
        self.env: dict[str, str] = {}
        self._bus: ManagedProcess | None = None
        self._keyring: ManagedProcess | None = None
        self._saved: str | None = None
        self._active = False
        self._own_dir: Path | None = None

    @classmethod
    def start(cls, base_dir: Path, timeout: float = 15.0) -> SecretService:
        """Start the bus and the unlocked keyring; return when the Secret Service is on the bus.

        Args:
            base_dir: An empty or rig-owned directory (keep its path short: it holds a socket).
            timeout: Seconds allowed for each start-up step.
        """
        service = cls(base_dir)
        try:
            service._start_bus(timeout)
            service._start_keyring(timeout)
        except BaseException:
            service.stop()
            raise
        return service

    def _start_bus(self, timeout: float) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        socket = self.base_dir / "bus"
        if len(str(socket)) > _SOCKET_PATH_MAX:
            self._own_dir = Path(tempfile.mkdtemp(prefix="vxbus-"))
            socket = self._own_dir / "bus"
        argv = [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--nopidfile",
            "--print-address=1",
            f"--address=unix:path={socket}",
        ]
        self._bus = spawn(
            "dbus-daemon",
            argv,
            env=private_env(),
            log_path=self.base_dir / "dbus.log",
            stdout=subprocess.PIPE,
        )
        self.address = _read_line(self._bus, timeout)
        if not self.address.startswith("unix:"):
            raise HarnessError(f"dbus-daemon printed an unexpected address: {self.address!r}")
        self.env = {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def _start_keyring(self, timeout: float) -> None:
        home = self.base_dir / "home"
        runtime = self.base_dir / "xdg"
        for d in (home, runtime):
            d.mkdir(mode=0o700, exist_ok=True)
        env = private_env(
            {
                "HOME": str(home),
                "XDG_RUNTIME_DIR": str(runtime),
                "XDG_DATA_HOME": str(home / ".local" / "share"),
                "XDG_CONFIG_HOME": str(home / ".config"),
                **self.env,
            }
        )
        argv = ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"]
        self._keyring = spawn(
            "gnome-keyring-daemon",
            argv,
            env=env,
            log_path=self.base_dir / "gnome-keyring.log",
            stdin=subprocess.PIPE,
        )
        stdin = self._keyring.popen.stdin
        assert stdin is not None
        stdin.write(secrets.token_hex(16).encode())
        stdin.close()
        keyring = self._keyring
        wait_until(
            self.secrets_owned,
            timeout=timeout,
            what=f"{SECRETS_NAME} on the private bus",
            alive=keyring.check_alive,
        )
        log.info("Secret Service ready on %s", self.address)

    def secrets_owned(self) -> bool:
        """Return True when ``org.freedesktop.secrets`` has an owner on this bus."""
        out = run_checked(
            [
                "dbus-send",
                f"--bus={self.address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{SECRETS_NAME}",
            ],
            env=private_env(),
            timeout=5.0,
        )
        return "boolean true" in out

    @property
    def pids(self) -> list[int]:
        """Process ids of the bus and keyring daemons that were started."""
        return [p.pid for p in (self._bus, self._keyring) if p is not None]

    def client_env(self) -> dict[str, str]:
        """Return a complete child environment on this bus (DISPLAY and other services removed)."""
        return private_env(self.env)

    def activate(self) -> None:
        """Point ``DBUS_SESSION_BUS_ADDRESS`` in ``os.environ`` at this bus."""
        if not self._active:
            self._saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
            self._active = True
        os.environ.update(self.env)

    def deactivate(self) -> None:
        """Restore the previous ``DBUS_SESSION_BUS_ADDRESS``."""
        if not self._active:
            return
        if self._saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = self._saved
        self._active = False

    def stop(self) -> None:
        """Undo ``activate()``, stop the keyring, then the bus. Idempotent."""
        self.deactivate()
        for proc in (self._keyring, self._bus):
            if proc is not None:
                proc.stop(timeout=5.0)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> SecretService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SecretService(address={self.address!r})"


def _read_line(proc: ManagedProcess, timeout: float) -> str:
    stdout = proc.popen.stdout
    assert stdout is not None
    fd = stdout.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HarnessTimeout(f"{proc.name} printed no address within {timeout} s")
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if not ready:
            proc.check_alive()
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            proc.check_alive()
            raise HarnessError(f"{proc.name} closed its output without an address")
        data += chunk
    return data.split(b"\n", 1)[0].decode().strip()
