"""Mapping of the callback's clocks to ``time.monotonic()``.

The callback stores raw doubles only: its own ``time.monotonic()`` reading, the block's sequence
number and PortAudio's ``currentTime``/``inputBufferAdcTime``/``outputBufferDacTime``. This class
turns them into monotonic times on the engine thread.

Capture times come from the sample clock, not from ``inputBufferAdcTime``: through ALSA's pulse
plugin PortAudio's ADC times drifted by tens, and after xruns hundreds, of milliseconds (measured
against the rig's ear), while the callback's own clock reading was exact to 0.5 ms. A block's
last sample cannot reach the callback before it was captured, so for block ``seq`` of ``F``
frames, ``now - (seq + 1) * F / rate`` is an upper bound of the capture clock's origin; the
minimum over a sliding window (the least-delayed callback) estimates it, and block ``seq``
starts at ``origin + seq * F / rate``. The window keeps the estimate following slow clock drift.

Playback times use PortAudio's ``outputBufferDacTime``, converted with the offset
``monotonic - currentTime`` (minimum over a window, for the same reason); where a host API
reports zero times, the callback's clock plus the stream's nominal output latency is used.
"""

from __future__ import annotations

import collections


class PaClock:
    """Converts the callback's raw times to ``time.monotonic()``.

    Thread: ``observe*``/``reset*`` from the engine thread (and the watchdog between streams);
    ``offset``, ``valid`` and the latencies are plain attributes any thread may read.
    """

    def __init__(self, block_s: float = 0.01, window: int = 500) -> None:
        self._block_s = block_s
        self._window = window
        self._offsets: collections.deque[float] = collections.deque(maxlen=window)
        self._origins: collections.deque[tuple[int, float]] = collections.deque()
        self.offset = 0.0
        self.valid = False
        self.input_latency_s = 0.0
        self.output_latency_s = 0.0
        # Primed starts (see app.audio.farref): written by the engine thread, read by any. Each
        # is replaced whole, the runs tuple before the rest, so a reader sees a consistent view.
        self.redating = False  # the engine re-dates primed output runs (separate streams)
        self.primed_runs: tuple[tuple[float, float, float], ...] = ()
        """Latest re-dated runs: (first callback, last priming callback, seconds played late)."""
        self.unsettled_from: float | None = None  # first callback of a run not yet re-dated
        self.far_seen_to = 0.0  # callback time of the latest played block the engine looked at

    def reset(self) -> None:
        """Forget every estimate (a new stream has new clocks)."""
        self._offsets.clear()
        self.valid = False
        self.reset_capture()

    def reset_capture(self) -> None:
        """Forget the capture origin (samples were lost, e.g. an input overflow)."""
        self._origins.clear()

    def set_nominal_latency(self, input_s: float, output_s: float) -> None:
        """Latencies reported by the stream, used when PortAudio times are missing."""
        self.input_latency_s = input_s
        self.output_latency_s = output_s

    def observe(self, now: float, current: float) -> None:
        """Feed one callback's (monotonic, ``currentTime``) pair for the playback mapping."""
        if current <= 0.0:
            return
        self._offsets.append(now - current)
        self.offset = min(self._offsets)
        self.valid = True

    def observe_capture(self, now: float, seq: int) -> None:
        """Feed one captured block's callback time and sequence number."""
        origin = now - (seq + 1) * self._block_s
        origins = self._origins
        while origins and origins[-1][1] >= origin:  # monotonic deque: sliding-window minimum
            origins.pop()
        origins.append((seq, origin))
        while origins[0][0] <= seq - self._window:
            origins.popleft()

    def capture_time(self, now: float, seq: int) -> float:
        """Monotonic time at which the first sample of block ``seq`` was captured."""
        if not self._origins:
            return now - self._block_s - self.input_latency_s
        return self._origins[0][1] + seq * self._block_s

    def note_run(
        self, first_call: float, primed: tuple[float, float, float] | None, seen: float
    ) -> None:
        """The engine laid a played block of the run begun at callback time ``first_call``.

        Args:
            first_call: when the run's first callback ran.
            primed: the run's re-dating once known (``FarTimeline.primed``), else None.
            seen: when the callback of the block just laid ran.
        """
        if primed is None:
            self.unsettled_from = first_call
        else:
            if primed not in self.primed_runs:
                self.primed_runs = (*self.primed_runs[-7:], primed)
            self.unsettled_from = None
        self.far_seen_to = seen

    def dated(self, now: float) -> bool:
        """Whether a played block whose callback ran at ``now`` has its final DAC dating."""
        if not self.redating:
            return True
        unsettled = self.unsettled_from
        return now <= self.far_seen_to and (unsettled is None or now < unsettled)

    def played_at(self, now: float, dac: float) -> float:
        """Like ``dac_to_monotonic``, with a primed start's blocks moved to when they played."""
        at = self.dac_to_monotonic(now, dac)
        for first, last, late_s in self.primed_runs:
            if first <= now <= last:
                return at + late_s
        return at

    def dac_to_monotonic(self, now: float, dac: float) -> float:
        """Monotonic time at which the first sample of a played block leaves the DAC."""
        if self.valid and dac > 0.0:
            return dac + self.offset
        return now + self.output_latency_s
