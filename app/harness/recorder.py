"""The "ear": records a PulseAudio source with ``parec``; dates sample 0 on the monotonic clock.

Timestamp method: a reader thread notes the ``time.monotonic()`` arrival time ``t_i`` of every chunk
``parec`` writes (``--latency-msec=10`` keeps chunks near 10 ms) and the cumulative sample count
``n_i`` after it. The last sample of a chunk cannot arrive before it was produced, so with ``t0``
the production time of sample 0, ``t_i >= t0 + n_i / rate`` for every chunk, i.e.
``t0 <= t_i - n_i / rate``. The estimate is the lower envelope ``min_i(t_i - n_i / rate)``: it is
set by the chunk delivered with the least delay, which on an idle-enough machine is a few ms
after production. The error is therefore one-sided (sample 0 is dated slightly late, by the
smallest delivery delay seen) and stays well inside ±10 ms. The null sinks are clocked by the
same system clock, so there is no drift to correct.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.harness.procs import HarnessError, HarnessTimeout, ManagedProcess, spawn, wait_until

log = logging.getLogger("app.harness")

FloatArray = npt.NDArray[np.float32]


def estimate_t0(arrivals: Sequence[tuple[float, int]], rate: int) -> float:
    """Date sample 0 from chunk arrivals: the lower envelope ``min(t_i - n_i / rate)``.

    Args:
        arrivals: ``(monotonic arrival time, cumulative samples after the chunk)`` pairs.
        rate: Sample rate in Hz.

    Returns:
        The monotonic time at which sample 0 was produced (late by the smallest delivery delay).
    """
    if not arrivals:
        raise ValueError("no arrivals to date sample 0 from")
    return min(t - n / rate for t, n in arrivals)


class Recorder:
    """Records one PulseAudio source as float32 mono with arrival timestamps.

    Create it with ``PulseRig.record_monitor()``; it starts recording at once.

    Attributes:
        source: The PulseAudio source name being recorded.
        rate: Sample rate of the recording in Hz.
    """

    def __init__(
        self, source: str, *, rate: int, env: Mapping[str, str], log_path: Path | None = None
    ) -> None:
        self.source = source
        self.rate = rate
        self._buf = bytearray()
        self._arrivals: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._result: tuple[FloatArray, int, float] | None = None
        self._closed = False
        argv = [
            "parec",
            "--raw",
            f"--device={source}",
            "--format=float32le",
            f"--rate={rate}",
            "--channels=1",
            "--latency-msec=10",
            "--client-name=voxdesk-ear",
        ]
        self._proc: ManagedProcess = spawn(
            f"parec {source}", argv, env=env, log_path=log_path, stdout=subprocess.PIPE
        )
        self._thread = threading.Thread(target=self._read, name=f"ear-{source}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        stdout = self._proc.popen.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            now = time.monotonic()
            if not data:
                break
            with self._lock:
                self._buf += data
                self._arrivals.append((now, len(self._buf) // 4))
            self._first.set()

    @property
    def pid(self) -> int:
        """Process id of the ``parec`` child."""
        return self._proc.pid

    def active(self) -> bool:
        """Return True until the recorder has been stopped or closed."""
        return self._result is None and not self._closed

    def wait_started(self, timeout: float = 10.0) -> None:
        """Block until the first chunk arrives (the null sink may stall ~2 s at first).

        Raises:
            HarnessTimeout: No audio arrived in time.
        """
        if not self._first.wait(timeout):
            self._proc.check_alive()
            raise HarnessTimeout(f"no audio from {self.source} within {timeout} s")

    def samples_recorded(self) -> int:
        """Return how many samples have arrived so far."""
        with self._lock:
            return len(self._buf) // 4

    def wait_samples(self, count: int, timeout: float) -> None:
        """Block until at least ``count`` samples have arrived.

        Raises:
            HarnessTimeout: Not enough audio arrived in time.
        """
        wait_until(
            lambda: self.samples_recorded() >= count,
            timeout=timeout,
            what=f"{count} samples from {self.source}",
            alive=self._proc.check_alive,
        )

    def t0(self) -> float:
        """Return the current estimate of the monotonic time of sample 0 (see module docstring).

        Raises:
            HarnessError: No audio has arrived yet.
        """
        with self._lock:
            arrivals = list(self._arrivals)
        if not arrivals:
            raise HarnessError(f"no audio recorded from {self.source}")
        return estimate_t0(arrivals, self.rate)

    def time_of(self, index: int | float) -> float:
        """Return the monotonic time at which sample ``index`` passed through the source."""
        return self.t0() + float(index) / self.rate

    def index_at(self, t: float) -> int:
        """Return the sample index recorded at monotonic time ``t`` (may be out of range)."""
        return round((t - self.t0()) * self.rate)

    def snapshot(self) -> FloatArray:
        """Return a copy of the samples recorded so far."""
        with self._lock:
            usable = len(self._buf) - len(self._buf) % 4
            return np.frombuffer(bytes(self._buf[:usable]), dtype="<f4").astype(np.float32)

    def stop(self, timeout: float = 5.0) -> tuple[FloatArray, int, float]:
        """Stop recording and return ``(samples, rate, t0_monotonic)``; later calls return the same.

        Raises:
            HarnessError: Nothing was recorded.
        """
        if self._result is not None:
            return self._result
        self._halt(timeout)
        if self._thread.is_alive():
            raise HarnessError(f"ear reader for {self.source} did not finish")
        samples = self.snapshot()
        self._result = (samples, self.rate, self.t0())
        return self._result

    def close(self) -> None:
        """Stop recording, discarding errors (for fixture teardown)."""
        if self._result is None and not self._closed:
            self._halt(2.0)
        self._closed = True

    def _halt(self, timeout: float) -> None:
        # Let the reader drain the pipe to EOF before the pipe is closed under it.
        popen = self._proc.popen
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
        self._thread.join(timeout)
        self._proc.stop(timeout=timeout)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
