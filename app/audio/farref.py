"""The far-end reference for separate input and output streams, aligned by DAC time.

With one full-duplex stream the block written in a callback is the AEC's reference for the mic
block of the same callback, a fixed delay. With two streams (and with an output that is started
on demand and aborted on barge-in) there is no common callback, so the engine thread lays every
played block on a timeline at the monotonic time its first sample leaves the DAC, and reads the
reference of a mic block captured at ``t`` from ``t + lead``: the echo then lags its reference
by a constant delay, whatever the phase between the streams or how often the output restarted.

An aborted output run never played what was still queued in the device: ``cut(run, at)`` clears
that run's audio from ``at`` on, so the AEC gets exactly what was really played.

A primed start misdates its own run. PortAudio (ALSA, through PulseAudio) fills the device buffer
with back-to-back callbacks inside the start call and dates them as if the first sample played at
once; the sound server starts playing a few ms later. Measured on the rig (16 runs), the first
callback that ran in real time dated its block 0.4–6.7 ms after where the priming blocks had put
it, a different amount every run, and every later block agreed with it to 0.1 ms. Laid where the
priming said, the echo the AEC heard moved by that much from one answer to the next (22.5–30.8 ms
behind its reference, against a loopback that stayed at 20.0 ± 0.2 ms), and AEC3 leaked echo while
it re-converged. So a run is re-anchored once, as soon as two blocks from callbacks that ran in
real time agree on where it really is: the part of it not yet handed to the AEC moves there.

Thread: the engine thread only.
"""

from __future__ import annotations

import numpy as np

from app.audio.ringbuffer import FloatArray

_CAPACITY = 1 << 17  # 2.7 s at 48 kHz: far more than the output + input latency
_RESYNC_S = 0.015  # reported DAC times this far off the contiguous position are suspect...
_RESYNC_BLOCKS = 5  # ...and re-anchor the run when that many blocks in a row agree on it
_REAL_TIME_GAP = 0.5  # a callback this many blocks after the previous one ran in real time
_SETTLE_TOL_S = 0.0005  # two real-time blocks agree on the run's position within this...
_SETTLE_BLOCKS = 8  # ...among its first this many real-time blocks, or the run stays as laid


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
        self._run_first = 0  # index of that run's first block
        self._called_at: float | None = None  # when the callback of the latest block ran
        self._real_offsets: list[int] = []  # real-time blocks' reported − laid position, this run
        self.moves = 0  # runs re-anchored on their real-time blocks
        self.run_first_call = 0.0  # when the latest run's first callback ran
        self._priming_last_call = 0.0  # ...and its last callback before real time
        self.primed: tuple[float, float, float] | None = None
        """The latest run's re-dating once settled: (first callback, last priming callback,
        seconds its priming blocks played later than dated); None while it is not."""
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

    def add(
        self, block: FloatArray, dac_time: float, run: int, called_at: float | None = None
    ) -> None:
        """Lay one played block on the timeline; ``dac_time`` is when its first sample played.

        Blocks of one run are contiguous on the device, so each follows the previous one
        exactly; the reported time only re-anchors the run when it disagrees by more than
        ``_RESYNC_S`` for ``_RESYNC_BLOCKS`` blocks in a row (a real gap, e.g. an xrun). Single
        outliers (coarse latency reports under load, PortAudio's priming blocks, which all
        report the start time) would otherwise shift the reference for the rest of the run.
        ``called_at`` (monotonic time the callback ran) tells the priming blocks from those
        played in real time; with it the run is re-anchored once on the latter (module doc).
        """
        start = self.index(dac_time)
        if run == self._run:
            real_time = (
                called_at is not None
                and self._called_at is not None
                and called_at - self._called_at >= _REAL_TIME_GAP * len(block) / self.rate
            )
            settling = self.primed is None
            if settling and not self._real_offsets and not real_time:
                self._priming_last_call = called_at or 0.0
            if real_time and settling and abs(start - self._run_end) <= self._resync:
                self._settle(start - self._run_end)
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
            self._run_first, self._real_offsets = start, []
            self.run_first_call = self._priming_last_call = called_at or 0.0
            self.primed = None
        self._called_at = called_at
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

    def _settle(self, offset: int) -> None:
        """A real-time block of the latest run says it sits ``offset`` samples off its place."""
        offsets = self._real_offsets
        offsets.append(offset)
        if len(offsets) >= 2 and abs(offsets[-1] - offsets[-2]) <= _SETTLE_TOL_S * self.rate:
            self._move_run(offset)
        elif len(offsets) >= _SETTLE_BLOCKS:
            offset = 0  # the reports disagree: keep the run where the priming put it
        else:
            return
        self.primed = (self.run_first_call, self._priming_last_call, offset / self.rate)

    def _move_run(self, shift: int) -> None:
        """Move what is laid of the latest run by ``shift`` samples (only what is still unread)."""
        self.moves += 1
        lo, hi = self._run_first, self._run_end
        if self._read_to is not None:
            lo = max(lo, self._read_to)
        if shift != 0 and hi > lo:
            if hi - lo >= _CAPACITY:
                lo = hi - _CAPACITY + 1
            idx = np.arange(lo, hi) & self._mask
            laid = self._data[idx]  # a copy: the run's unread audio (tens of ms, once per run)
            self._clear(lo, hi)
            dest = lo + shift
            if self._read_to is not None and dest < self._read_to:  # its time was already read
                laid, dest = laid[self._read_to - dest :], self._read_to
            self._write(dest, laid)
        self._run_first += shift
        self._run_end += shift

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
