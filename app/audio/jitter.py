"""How long to hold assistant audio before it plays: learned from when its deltas arrive.

A provider streams an answer as short deltas. If a delta arrives after the device wanted it,
the speaker runs dry and the listener hears a gap. The only gap-free cure that leaves the audio
alone is to start later (WebRTC NetEQ and LiveKit buffer for the same reason; LiveKit always
holds 300 ms). A fixed prebuffer costs every answer its delay; learning from underruns (grow a
step per gap, decay on a timer) costs a gap per step and relearns after every decay. So the
hold is measured instead, per stream (one item's audio):

- the stream starts playing at ``S`` (the playout time); the output reads the first
  ``read_ahead`` of audio at once (a primed start fills the device buffer) and every later
  sample ``read_ahead`` before it reaches the DAC. So the sample at media time ``m`` is read at
  ``S + max(0, m − read_ahead)``;
- delta ``k`` arrives ``a_k − a_0`` after the first delta with ``m_k`` of audio before it, so
  the stream plays without a gap iff ``S − a_0 ≥ need_k = (a_k − a_0) − max(0, m_k − read_ahead)``
  for every ``k``, plus ``margin`` for deltas past the priming (the callback's timing wobbles);
- the hold is the worst ``need`` of the current stream and of the last ``memory`` streams,
  0 when that is ≤ 0 (a provider ahead of real time), at most ``bound``. It is a *time*
  after the first arrival, not an amount queued: a stream whose first deltas come bunched has
  plenty queued early and still runs dry later.

So a fast provider plays at once, a jittery one is held by its jitter plus the device's read
-ahead from its second answer on, and the memory forgets a bad patch after ``memory`` clean
answers. The first jittery answer can still gap: nothing is known before its first delta, and
the hold cannot grow without a gap once playback has started.

Thread: the session thread only (the player's producer side).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable


class ArrivalJitter:
    """Learns the playout hold from delta arrival times (see the module docstring).

    Args:
        memory: finished streams whose worst need is remembered (≥ 1).
        margin_ms: added to the need of deltas past the priming.
        bound_ms: the hold never exceeds this.
    """

    def __init__(self, memory: int, margin_ms: float, bound_ms: float) -> None:
        if memory < 1:
            raise ValueError("memory must be at least 1")
        self._past: collections.deque[float] = collections.deque(maxlen=memory)
        self._margin_s = margin_ms / 1000.0
        self._bound_s = bound_ms / 1000.0
        self._key: Hashable | None = None
        self._anchor = 0.0
        self._media_s = 0.0
        self._worst = -math.inf  # worst need of the current stream

    def arrive(self, key: Hashable, seconds: float, now: float, read_ahead_s: float) -> float:
        """Record a delta of ``seconds`` of audio of stream ``key`` arriving at ``now``.

        Args:
            key: identifies the stream; a new key starts a new stream.
            seconds: audio in the delta.
            now: its arrival time (monotonic).
            read_ahead_s: how far ahead of the DAC the output reads (its latency).

        Returns:
            The hold in seconds after this delta (see ``hold_s``).
        """
        if key != self._key:
            self._finish()
            self._key, self._anchor, self._media_s = key, now, 0.0
        else:
            primed = self._media_s <= read_ahead_s
            need = (now - self._anchor) - max(0.0, self._media_s - read_ahead_s)
            self._worst = max(self._worst, need if primed else need + self._margin_s)
        self._media_s += seconds
        return self.hold_s

    @property
    def anchor(self) -> float:
        """Arrival time of the current stream's first delta (it plays ``hold_s`` later)."""
        return self._anchor

    @property
    def need_s(self) -> float:
        """Worst need of the remembered and the current stream (``-inf``: nothing known)."""
        return max(self._worst, max(self._past, default=-math.inf))

    @property
    def hold_s(self) -> float:
        """Seconds from a stream's first arrival to its first sample playing (0 = at once)."""
        return min(max(0.0, self.need_s), self._bound_s)

    def _finish(self) -> None:
        if self._key is not None and self._worst > -math.inf:
            self._past.append(self._worst)
        self._worst = -math.inf
