"""``FakeAudioBackend``: drives the real ``DuplexCallback`` with synthetic blocks, no PortAudio.

For unit tests and benches of the engine: a scripted microphone (optionally with an echo of what
was played), every output block recorded, stalls, deaths, failed opens, over- and underflows,
missing devices. ``FakeTimeInfo`` and ``FakeFlags`` stand in for PortAudio's callback arguments.

Thread: ``open``/``close`` from the engine's watchdog; ``step`` from one thread at a time (the
pacing thread when ``paced``, else the test).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from app.audio.callback import DuplexCallback
from app.audio.config import AudioConfig
from app.audio.ringbuffer import FloatArray
from app.audio.stream_backend import StreamInfo


class FakeTimeInfo:
    """Stand-in for PortAudio's ``time_info`` struct (the PA clock here is ``time.monotonic``)."""

    def __init__(self) -> None:
        self.currentTime = 0.0
        self.inputBufferAdcTime = 0.0
        self.outputBufferDacTime = 0.0


class FakeFlags:
    """Stand-in for ``sounddevice.CallbackFlags``."""

    def __init__(self) -> None:
        self.input_overflow = False
        self.output_underflow = False


class FakeAudioBackend:
    """Drives the real callback with preallocated synthetic blocks; no PortAudio involved.

    The microphone plays ``mic`` (float32 mono at the device rate, then silence) plus, if
    ``echo_gain`` is set, what the callback played ``echo_delay_blocks`` blocks earlier. Every
    output block is recorded in ``played`` (up to ``record_blocks``). ``step()`` runs blocks
    synchronously; ``paced=True`` runs them from a thread at real time. ``stall()``/``kill()``
    simulate a stalled or dead stream; ``fail_opens`` makes the next opens raise; ``devices``
    names the devices that exist (others fall back to the first, the "system default").

    Thread: ``open``/``close`` from the watchdog; ``step`` from one thread at a time.
    """

    def __init__(
        self,
        mic: FloatArray | None = None,
        *,
        paced: bool = False,
        echo_gain: float = 0.0,
        echo_delay_blocks: int = 2,
        record_blocks: int = 3000,
        input_latency_s: float = 0.01,
        output_latency_s: float = 0.02,
        devices: tuple[str, ...] = ("fake",),
    ) -> None:
        self.mic = np.zeros(0, np.float32) if mic is None else np.asarray(mic, np.float32)
        self.paced = paced
        self.echo_gain = echo_gain
        self.echo_delay_blocks = max(1, echo_delay_blocks)
        self.record_blocks = record_blocks
        self.input_latency_s = input_latency_s
        self.output_latency_s = output_latency_s
        self.devices = devices  # names that "exist"; the first is the system default
        self.opens = 0
        self.closes = 0
        self.fail_opens = 0
        self.blocks = 0  # blocks run since the last open
        self._callback: DuplexCallback | None = None
        self._alive = False
        self._stalled = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # serialises step() between the pacer and tests
        self.played: FloatArray = np.zeros(0, np.float32)
        self.output_active = False  # on demand: whether the output "stream" runs
        self.output_starts = 0
        self.output_aborts = 0
        self._mic_pos = 0
        self.time_info = FakeTimeInfo()
        self.flags = FakeFlags()

    def open(self, config: AudioConfig, callback: DuplexCallback) -> StreamInfo:
        """Preallocate the blocks and start (pacing thread if ``paced``)."""
        self.opens += 1
        if self.fail_opens > 0:
            self.fail_opens -= 1
            raise OSError("fake device unavailable")
        frames = config.block_frames
        self._config = config
        self._callback = callback
        self._frames = frames
        self._indata = np.zeros((frames, 1), np.float32)
        self._outdata = np.zeros((frames, 1), np.float32)
        self._history = np.zeros((self.echo_delay_blocks, frames), np.float32)
        self.played = np.zeros(self.record_blocks * frames, np.float32)
        self.blocks = 0
        self._t_open = time.monotonic()
        self.output_active = not config.output_on_demand
        self._alive = True
        self._stalled.clear()
        self._stop.clear()
        if self.paced:
            self._thread = threading.Thread(target=self._pace, name="fake-audio", daemon=True)
            self._thread.start()
        mic, mic_missing = self._resolve(config.input_device)
        spk, spk_missing = self._resolve(config.output_device)
        return StreamInfo(mic, spk, config.device_rate, not config.split_streams,
                          self.input_latency_s, self.output_latency_s,
                          mic_missing or spk_missing)  # fmt: skip

    def _resolve(self, name: str | None) -> tuple[str, bool]:
        if name is None:
            return self.devices[0], False
        if name in self.devices:
            return name, False
        return self.devices[0], True

    def close(self) -> None:
        """Stop the pacer and forget the callback."""
        self.closes += 1
        self._alive = False
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def is_alive(self) -> bool:
        """False after ``kill()`` or ``close()``."""
        return self._alive

    def rescan(self) -> None:
        """Nothing to re-scan."""

    def start_output(self) -> bool:
        """Start the on-demand output (its callbacks run from the next block)."""
        with self._lock:
            cb = self._callback
            if cb is None or self.output_active or not self._alive:
                return False
            cb.shared.output_run += 1
            self.output_starts += 1
            self.output_active = True
            return True

    def abort_output(self) -> int | None:
        """Abort the on-demand output; returns the aborted run."""
        with self._lock:
            cb = self._callback
            if cb is None or not self.output_active or not self._config.output_on_demand:
                return None
            self.output_aborts += 1
            self.output_active = False
            return cb.shared.output_run

    def output_running(self) -> bool:
        """True while the output runs."""
        return self._alive and self.output_active

    def stall(self) -> None:
        """Stop delivering callbacks while staying 'active' (a stalled device)."""
        self._stalled.set()

    def kill(self) -> None:
        """The stream dies (as PortAudio aborting it would look)."""
        self._alive = False
        self._stalled.set()

    def inject_overflow(self) -> None:
        """Flag an input overflow on the next block."""
        self.flags.input_overflow = True

    def inject_underflow(self) -> None:
        """Flag an output underflow on the next block."""
        self.flags.output_underflow = True

    def step(self, blocks: int = 1) -> None:
        """Run ``blocks`` callbacks now (synthetic mic in, output recorded)."""
        for _ in range(blocks):
            with self._lock:
                self._run_block()

    def _run_block(self) -> None:
        cb, frames = self._callback, self._frames
        if cb is None:
            return
        n = min(frames, max(0, len(self.mic) - self._mic_pos))
        self._indata[:n, 0] = self.mic[self._mic_pos : self._mic_pos + n]
        self._indata[n:, 0] = 0.0
        self._mic_pos += frames
        if self.echo_gain:
            echo = self._history[self.blocks % self.echo_delay_blocks]
            self._indata[:, 0] += self.echo_gain * echo
        # PortAudio's times follow the sample clock; the callback's own clock read jitters.
        period = frames / self._config.device_rate
        now = self._t_open + self.blocks * period
        ti = self.time_info
        ti.currentTime = now
        ti.inputBufferAdcTime = now - self.input_latency_s - period
        ti.outputBufferDacTime = now + self.output_latency_s
        if self._config.split_streams:
            if self.output_active:
                cb.on_output(self._outdata, frames, ti, self.flags)
            else:
                self._outdata.fill(0.0)  # a stopped output plays nothing
            cb.on_input(self._indata, frames, ti, self.flags)
        else:
            cb(self._indata, self._outdata, frames, ti, self.flags)
        self._history[self.blocks % self.echo_delay_blocks] = self._outdata[:, 0]
        if self.blocks < self.record_blocks:
            start = self.blocks * frames
            self.played[start : start + frames] = self._outdata[:, 0]
        self.blocks += 1
        self.flags.input_overflow = self.flags.output_underflow = False

    def _pace(self) -> None:
        period = self._frames / self._config.device_rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            if not self._stalled.is_set():
                self.step()
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -0.2:  # fell far behind (busy machine): do not burst
                next_at = time.monotonic()
            self._stop.wait(max(0.0, delay))
