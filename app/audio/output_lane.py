"""The on-demand output stream's controller (the ``audio-output`` thread).

Measured through PulseAudio (ALSA pulse plugin, 10 ms blocks, 20 ms latency): a running output
stream keeps its device buffer full of silence, so new audio reaches the speaker ~25 ms after
the callback wrote it, and a flush honoured in the callback still lets that buffer play out
(25–35 ms). ``abort()`` silences the sink at once (≤ 1 ms) and a start primed from the callback
plays the queued audio at once; both calls take ~1 ms. So the output runs only while there is
assistant audio: started when audio is queued, aborted on ``flush()`` and once playback has
been idle for ``output_idle_s``. The mic has its own stream and never stops.

Thread: ``wake`` from any thread (the session thread calls it through the player); the rest
from the owner. The backend calls run on the ``audio-output`` thread, never on the session's
asyncio loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.audio.config import AudioConfig
from app.audio.player import Player
from app.audio.stream_backend import StreamBackend

log = logging.getLogger("app.audio")

_RUNNING_POLL_S = 0.01  # how often a running output is checked for idleness
_IDLE_POLL_S = 0.25  # a stopped output waits for ``wake`` (this is only a safety net)
PRIME_SETTLE_S = 0.001
"""A primed start fills the whole device buffer (its latency) plus a block at once, and a block
it finds empty is silence committed to the speaker even if the next delta arrives a millisecond
later. So below that depth a start waits: while the answer's audio is still streaming, for
more; once it is complete, only for the queue to stop growing this long."""
PRIME_WAIT_MAX_S = 0.03
"""...and never longer than this: a provider pacing its audio in real time sends the next
delta within one delta's length (20–40 ms)."""


class OutputLane:
    """Starts and aborts the on-demand output stream.

    Args:
        config: ``output_idle_s`` is used.
        backend: the stream backend (``start_output``/``abort_output``/``output_running``).
        player: the playback side (what is queued, whether the last sample played).
        on_cut: called with ``(run, monotonic time)`` after each abort, for the far-end
            reference (``FarTimeline.cut``).
    """

    def __init__(
        self,
        config: AudioConfig,
        backend: StreamBackend,
        player: Player,
        on_cut: Callable[[int, float], None],
    ) -> None:
        self._idle_s = config.output_idle_s
        self._backend = backend
        self._player = player
        self._on_cut = on_cut
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_epoch = player.state.flush_epoch
        self._idle_since: float | None = None
        self._pending_since: float | None = None  # first saw audio while stopped
        # What a primed start asks for at once: the device buffer (the suggested latency, or
        # the larger one the stream reports) plus the block the callback fills.
        self._prime_frames = round(config.latency_s * config.device_rate) + config.block_frames
        self._rate = config.device_rate
        self._block = config.block_frames
        self._last_pending = 0
        self._grew_at = 0.0
        self._wait_s = _IDLE_POLL_S  # shortened while waiting for a jitter target to fill
        self.starts = 0
        self.aborts = 0
        self.errors = 0
        self.started_at: float | None = None
        """Monotonic time the last successful start was asked for (None: never started)."""
        self.start_s = 0.0
        """How long that start call took (the stream primes the device buffer inside it)."""

    def start(self) -> None:
        """Start the ``audio-output`` thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="audio-output", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (the backend closes the stream itself)."""
        self._stop.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look at the queue now (audio was queued or flushed); never blocks."""
        self._event.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            running = self._backend.output_running()
            wait = _RUNNING_POLL_S if running else _IDLE_POLL_S
            self._event.wait(min(wait, self._wait_s))
            self._event.clear()
            self._wait_s = _IDLE_POLL_S
            if self._stop.is_set():
                return
            try:
                self.step(time.monotonic())
            except Exception:  # the lane must outlive any backend error; the watchdog reopens
                self.errors += 1
                if self.errors == 1 or self.errors % 100 == 0:
                    log.exception("audio output control failed (%d times)", self.errors)

    def step(self, now: float) -> None:
        """One decision: abort on a flush, start for queued audio, stop when idle."""
        player, backend = self._player, self._backend
        running = backend.output_running()
        epoch = player.state.flush_epoch
        if epoch != self._seen_epoch:
            self._seen_epoch = epoch
            if running:
                self._abort()
                running = False
        if not running:
            player.honour_flush_stopped()  # no callback runs: drop the flushed audio here
        pending = player.pending_frames()
        if pending > 0:
            self._idle_since = None
            if running:
                return
            if self._pending_since is None:
                self._pending_since, self._grew_at = now, now
            elif pending > self._last_pending:
                self._grew_at = now
            self._last_pending = pending
            # The jitter buffer's playout time is waited for here, not in the callback, so the
            # primed start plays audio rather than buffering silence ahead of it.
            left = player.start_wait_s(now)
            if left > 0:
                self._wait_s = left  # each enqueue wakes the lane anyway; this is the timeout
                return
            prime = max(self._prime_frames, round(player.read_ahead_s * self._rate) + self._block)
            if pending < prime:
                left = PRIME_WAIT_MAX_S - (now - self._pending_since)
                if not player.audio_complete():
                    wait = left
                else:
                    wait = min(left, PRIME_SETTLE_S - (now - self._grew_at))
                if wait > 0:
                    self._wait_s = wait
                    return
            self._pending_since = None
            asked = time.monotonic()
            if backend.start_output():
                self.starts += 1
                self.started_at, self.start_s = asked, time.monotonic() - asked
            return
        self._pending_since = None
        if not running:
            self._idle_since = None
            return
        if player.is_active(now):
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self._idle_s:
            self._idle_since = None
            self._abort()

    def _abort(self) -> None:
        run = self._backend.abort_output()
        if run is not None:
            self.aborts += 1
            self._on_cut(run, time.monotonic())
