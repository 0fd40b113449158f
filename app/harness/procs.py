"""Child-process helpers for the real-service rigs: private env, readiness deadlines, teardown.

Every process is started in its own session (``start_new_session=True``) so that teardown can
signal the whole group it spawned, and is registered until it has been reaped, so an
``atexit`` hook can still clean up after a crashed test run. Nothing here sleeps without a
deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

log = logging.getLogger("app.harness")

T = TypeVar("T")

#: Variables that would connect a child to the developer's own desktop services.
DESKTOP_VARS = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "PULSE_SERVER",
    "PULSE_RUNTIME_PATH",
    "XDG_RUNTIME_DIR",
)


class HarnessError(RuntimeError):
    """A rig service failed to start or behaved unexpectedly."""


class HarnessTimeout(HarnessError):
    """A readiness condition was not met before its deadline."""


def private_env(
    overrides: Mapping[str, str] | None = None,
    *,
    remove: Iterable[str] = DESKTOP_VARS,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build a child environment: ``base`` (default ``os.environ``) minus ``remove`` plus overrides.

    Args:
        overrides: Variables to set in the child.
        remove: Variables to drop before applying the overrides.
        base: Starting environment; the current process environment when ``None``.

    Returns:
        A new dictionary suitable for ``subprocess.Popen(env=...)``.
    """
    env = dict(os.environ if base is None else base)
    for key in remove:
        env.pop(key, None)
    if overrides:
        env.update(overrides)
    return env


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.01,
    alive: Callable[[], None] | None = None,
) -> T:
    """Poll ``predicate`` until it returns a truthy value or the deadline passes.

    Args:
        predicate: Returns a truthy value when the condition holds; exceptions count as "not yet".
        timeout: Seconds before giving up.
        what: Description used in the timeout message.
        interval: Initial poll interval; it grows up to 0.1 s.
        alive: Optional check called every round that raises if the awaited process died.

    Returns:
        The first truthy value the predicate returned.

    Raises:
        HarnessTimeout: The condition was not met in time.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    delay = interval
    while True:
        if alive is not None:
            alive()
        try:
            value = predicate()
        except Exception as exc:  # any failure means "not ready yet"
            last_exc = exc
            value = None
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = f" (last error: {last_exc!r})" if last_exc is not None else ""
            raise HarnessTimeout(f"timed out after {timeout:.1f} s waiting for {what}{detail}")
        # An Event wait is a bounded, interruptible pause; the deadline bounds the loop.
        _PAUSE.wait(min(delay, remaining))
        delay = min(delay * 1.5, 0.1)


_PAUSE = threading.Event()


class ManagedProcess:
    """A child process that is always torn down: terminate, wait, then kill its process group.

    Attributes:
        name: Short label for logs and errors.
        popen: The underlying ``subprocess.Popen``.
        log_path: File receiving the child's stderr (and stdout unless captured), if any.
    """

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path | None) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.pgid = popen.pid  # start_new_session=True makes the child its own group leader.

    @property
    def pid(self) -> int:
        """Process id of the child."""
        return self.popen.pid

    def running(self) -> bool:
        """Return True while the child has not exited."""
        return self.popen.poll() is None

    def check_alive(self) -> None:
        """Raise ``HarnessError`` with the log tail if the child has exited."""
        rc = self.popen.poll()
        if rc is not None:
            raise HarnessError(f"{self.name} exited with code {rc}; log tail:\n{self.log_tail()}")

    def log_tail(self, max_chars: int = 2000) -> str:
        """Return the end of the child's log file ('' when there is none)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        data = self.log_path.read_bytes()[-max_chars:]
        return data.decode("utf-8", "replace")

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the child's process group if that group still has members.

        A group id cannot be reused while the group has a member, so checking first keeps a
        recycled pid (an unrelated process) from ever being signalled.
        """
        if self.popen.returncode is not None and not _proc_members(2, self.pgid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def stop(self, timeout: float = 5.0, sig: int = signal.SIGTERM) -> int | None:
        """Stop the child: ``sig`` → wait(timeout) → SIGKILL → wait; also clears its group.

        Args:
            timeout: Seconds to wait after the polite signal before killing.
            sig: The polite signal (SIGTERM by default).

        Returns:
            The exit code, or None if the child could not be reaped (should not happen).
        """
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not exit within %.1f s; killing", self.name, timeout)
                self.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=timeout)
        # Grandchildren left in the group (helpers the daemon spawned) go too.
        self.signal_group(signal.SIGKILL)
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        _LIVE.discard(self)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the child's group at once and reap the child (a crash, for watchdog tests)."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5.0)
        self.stop(timeout=1.0)

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.popen.returncode}"
        return f"ManagedProcess({self.name!r}, pid={self.pid}, {state})"


_LIVE: set[ManagedProcess] = set()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path | None = None,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = None,
    cwd: Path | None = None,
    pass_fds: Sequence[int] = (),
) -> ManagedProcess:
    """Start ``argv`` in a new session with ``env``; its output goes to ``log_path``.

    Args:
        name: Label for logs and errors.
        argv: Command line.
        env: Complete environment of the child (build it with ``private_env``).
        log_path: File for the child's output; ``/dev/null`` when None.
        stdin: Standard input (``subprocess.PIPE`` to write to it).
        stdout: Standard output; defaults to the log file.
        cwd: Working directory.
        pass_fds: File descriptors the child inherits.

    Returns:
        The registered ``ManagedProcess``.
    """
    log_file: IO[bytes] | int
    log_file = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL
    try:
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=stdin,
            stdout=log_file if stdout is None else stdout,
            stderr=log_file,
            cwd=cwd,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
        )
    finally:
        if not isinstance(log_file, int):
            log_file.close()
    proc = ManagedProcess(name, popen, log_path)
    _LIVE.add(proc)
    log.debug("started %s pid=%d: %s", name, popen.pid, " ".join(argv))
    return proc


def live_processes() -> list[ManagedProcess]:
    """Return the harness processes that have been started and not yet stopped."""
    return [p for p in _LIVE if p.running()]


def session_members(sid: int) -> list[int]:
    """Return the pids of live (non-zombie) processes whose session id is ``sid`` (Linux /proc)."""
    return _proc_members(3, sid)


def _proc_members(field: int, value: int) -> list[int]:
    """Return live pids whose /proc stat ``field`` (2 = pgrp, 3 = session) equals ``value``."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp session ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > field and int(fields[field]) == value and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def run_checked(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float, input_bytes: bytes | None = None
) -> str:
    """Run a short command with a timeout and return its stdout; raise ``HarnessError`` on failure.

    Args:
        argv: Command line.
        env: Environment of the command.
        timeout: Seconds before the command is killed.
        input_bytes: Optional data for stdin.

    Returns:
        Decoded standard output.
    """
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            input=input_bytes,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessTimeout(f"{argv[0]} did not finish within {timeout} s") from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise HarnessError(f"{' '.join(argv[:3])} failed with code {done.returncode}: {err}")
    return done.stdout.decode("utf-8", "replace")


def _cleanup_at_exit() -> None:
    for proc in list(_LIVE):
        proc.stop(timeout=2.0)


atexit.register(_cleanup_at_exit)
