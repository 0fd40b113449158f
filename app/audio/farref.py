"""The far-end reference for separate input and output streams, aligned by DAC time.

With one full-duplex stream the block written in a callback is the AEC's reference for the mic
block of the same callback, a fixed delay. With two streams (and with an output that is started
on demand and aborted on barge-in) there is no common callback, so the engine thread lays every
played block on a timeline at the monotonic time its first sample leaves the DAC, and reads the
reference of a mic block captured at ``t`` from ``t + lead``: the echo then lags its reference
by a constant delay, whatever the phase between the streams or how often the output restarted.

An aborted output run never played what was still queued in the device: ``cut(run, at)`` clears
that run's audio from ``at`` on, so the AEC gets exactly what was really played.

Thread: the engine thread only.
"""

from __future__ import annotations

import numpy as np

from app.audio.ringbuffer import FloatArray

_CAPACITY = 1 << 17  # 2.7 s at 48 kHz: far more than the output + input latency
_RESYNC_S = 0.015  # reported DAC times this far off the contiguous position are suspect...
_RESYNC_BLOCKS = 5  # ...and re-anchor the run when that many blocks in a row agree on it


class FarTimeline:
    """Played audio indexed by absolute device-rate sample time (``round(t * rate)``).

    Args:
        rate: device sample rate.
        lead_s: the reference of a mic block captured at ``t`` is the audio played at
            ``t + lead_s``.
    """

    def __init__(self, rate: int, lead_s: float) -> None:
        self.rate = rate
        self.lead = round(lead_s * rate)
        self._resync = round(_RESYNC_S * rate)
        self._off_count = 0  # consecutive blocks whose reported time disagreed
        self.resyncs = 0  # times a run was re-anchored on its reported DAC time
        self._data: FloatArray = np.zeros(_CAPACITY, np.float32)
        self._mask = _CAPACITY - 1
        self._read_to: int | None = None  # everything before this index was handed out
        self._run = -1  # output run of the latest block added
        self._run_end = 0  # index just past that run's latest block
        self._cut_runs: dict[int, float] = {}
        self.late_blocks = 0  # blocks that arrived after their time was read (dropped)

    def index(self, t: float) -> int:
        """Absolute sample index of monotonic time ``t``."""
        return round(t * self.rate)

    @property
    def run(self) -> int:
        """Output run of the latest block added (-1 before any)."""
        return self._run

    def cut(self, run: int, at: float) -> None:
        """Output run ``run`` was aborted at monotonic ``at``: it played nothing after that.

        Call it before adding any block of a later run (the engine applies pending cuts when a
        new run's first block shows up).
        """
        self._cut_runs[run] = at
        while len(self._cut_runs) > 64:
            del self._cut_runs[next(iter(self._cut_runs))]
        if run == self._run:
            self._clear(max(self.index(at), self._read_to or 0), self._run_end)

    def add(self, block: FloatArray, dac_time: float, run: int) -> None:
        """Lay one played block on the timeline; ``dac_time`` is when its first sample played.

        Blocks of one run are contiguous on the device, so each follows the previous one
        exactly; the reported time only re-anchors the run when it disagrees by more than
        ``_RESYNC_S`` for ``_RESYNC_BLOCKS`` blocks in a row (a real gap, e.g. an xrun). Single
        outliers (coarse latency reports under load, PortAudio's priming blocks, which all
        report the start time) would otherwise shift the reference for the rest of the run.
        """
        start = self.index(dac_time)
        if run == self._run:
            if abs(start - self._run_end) > self._resync:
                self._off_count += 1
            else:
                self._off_count = 0
            if self._off_count < _RESYNC_BLOCKS:
                start = self._run_end
            else:
                self._off_count = 0
                self.resyncs += 1
        else:
            self._off_count = 0
        n = len(block)
        skip = 0 if self._read_to is None else max(0, self._read_to - start)
        if skip >= n:
            self.late_blocks += 1
            return
        cut_at = self._cut_runs.get(run)
        keep = n if cut_at is None else max(0, min(n, self.index(cut_at) - start))
        if keep > skip:
            self._write(start + skip, block[skip:keep])
        self._run, self._run_end = run, start + n

    def read(self, capture_time: float, out: FloatArray) -> None:
        """Fill ``out`` with the reference of a mic block whose first sample was captured then."""
        start = self.index(capture_time) + self.lead
        n = len(out)
        lo = start & self._mask
        first = min(n, _CAPACITY - lo)
        out[:first] = self._data[lo : lo + first]
        out[first:] = self._data[: n - first]
        begin = start if self._read_to is None else min(self._read_to, start)
        self._clear(begin, start + n)  # consumed (and any skipped stretch): ready for the wrap
        self._read_to = start + n if self._read_to is None else max(self._read_to, start + n)

    def _write(self, start: int, samples: FloatArray) -> None:
        n = len(samples)
        if n == 0:
            return
        lo = start & self._mask
        first = min(n, _CAPACITY - lo)
        self._data[lo : lo + first] = samples[:first]
        self._data[: n - first] = samples[first:]

    def _clear(self, begin: int, end: int) -> None:
        if end <= begin:
            return
        if end - begin >= _CAPACITY:
            self._data.fill(0.0)
            return
        lo = begin & self._mask
        first = min(end - begin, _CAPACITY - lo)
        self._data[lo : lo + first] = 0.0
        self._data[: end - begin - first] = 0.0
