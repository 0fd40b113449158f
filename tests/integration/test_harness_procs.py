"""Harness plumbing without services: deadlines, teardown of stubborn children, the ear's clock."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from app.harness.procs import (
    HarnessError,
    HarnessTimeout,
    live_processes,
    private_env,
    session_members,
    spawn,
    wait_until,
)
from app.harness.recorder import estimate_t0


def test_wait_until_returns_the_first_truthy_value() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_until(lambda: next(calls), timeout=5.0, what="x", interval=0.001) == "ready"


def test_wait_until_times_out_with_the_last_error() -> None:
    def broken() -> None:
        raise OSError("not yet")

    start = time.monotonic()
    with pytest.raises(HarnessTimeout, match="not yet"):
        wait_until(broken, timeout=0.2, what="never")
    assert time.monotonic() - start < 5.0


def test_wait_until_stops_when_the_process_died(tmp_path: Path) -> None:
    proc = spawn("false", ["false"], env=private_env(), log_path=tmp_path / "log")
    with pytest.raises(HarnessError, match="exited with code 1"):
        wait_until(lambda: False, timeout=30.0, what="never", alive=proc.check_alive)
    proc.stop()


def test_private_env_drops_desktop_services() -> None:
    env = private_env({"X": "1"}, base={"DISPLAY": ":0", "PULSE_SERVER": "s", "PATH": "/bin"})
    assert env == {"PATH": "/bin", "X": "1"}


def test_stop_kills_a_child_that_ignores_sigterm_and_its_grandchildren(tmp_path: Path) -> None:
    script = "trap '' TERM; sleep 60 & echo ready; wait"
    proc = spawn("stubborn", ["sh", "-c", script], env=private_env(), stdout=subprocess.PIPE)
    assert proc.popen.stdout is not None
    assert proc.popen.stdout.readline() == b"ready\n"
    assert proc in live_processes()
    proc.stop(timeout=0.3)
    assert proc.popen.returncode is not None
    assert proc not in live_processes()
    assert not Path(f"/proc/{proc.pid}").exists()  # reaped, not a zombie
    # The orphaned grandchild was killed too (zombies awaiting init do not count).
    wait_until(lambda: session_members(proc.pid) == [], timeout=5.0, what="the grandchild to die")


def test_sample_zero_is_dated_by_the_least_delayed_chunk() -> None:
    rate = 1000
    t0 = 100.0
    delays = [0.004, 0.012, 0.001, 0.030, 0.007]
    arrivals = [(t0 + (i + 1) * 0.010 + d, (i + 1) * 10) for i, d in enumerate(delays)]
    assert estimate_t0(arrivals, rate) == pytest.approx(t0 + 0.001)
    with pytest.raises(ValueError):
        estimate_t0([], rate)
