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

    def dac_to_monotonic(self, now: float, dac: float) -> float:
        """Monotonic time at which the first sample of a played block leaves the DAC."""
        if self.valid and dac > 0.0:
            return dac + self.offset
        return now + self.output_latency_s
