"""The latency meter: per-turn timestamps in, rolling per-segment percentiles out.

The session loop marks moments of a turn (``time.monotonic()`` seconds, mapped from PortAudio
ADC/DAC times where those exist):

=============  ===============================================================
``capture``    first sample of the uplink chunk at the ADC
``uplink_sent`` that chunk written to the socket
``speech_end`` end of the user's speech (VAD or PTT release)
``first_audio`` first assistant audio byte received
``onset``      first assistant sample at the DAC
``bargein``    the barge-in trigger
``silence``    last audible assistant sample at the DAC after a barge-in (not before it)
=============  ===============================================================

Segments are differences of two marks of the same turn, in milliseconds (see :data:`SEGMENTS`).
The first mark of a name in a turn wins; later ones are ignored.

Thread: :meth:`LatencyMeter.mark` is called by one writer (the session loop). Readers (a ~30 Hz
GUI timer, exports) call :meth:`LatencyMeter.snapshot`, which returns an immutable
:class:`LatencySnapshot` rebuilt only when a segment completes and swapped in by a single
reference assignment — readers never lock and never see a half-built snapshot.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from app.metrics.percentile import percentile

log = logging.getLogger("app.metrics")


@dataclass(frozen=True, slots=True)
class Segment:
    """A measured interval between two marks.

    Attributes:
        key: stable identifier used in exports.
        label: what the GUI shows.
        start: mark name where it starts.
        end: mark name where it ends.
    """

    key: str
    label: str
    start: str
    end: str


SEGMENTS: tuple[Segment, ...] = (
    Segment("mic_to_uplink", "Mic → uplink", "capture", "uplink_sent"),
    Segment(
        "speech_end_to_first_audio", "End of speech → first audio", "speech_end", "first_audio"
    ),
    Segment("first_audio_to_speaker", "First audio → speaker", "first_audio", "onset"),
    Segment("voice_to_voice", "Voice-to-voice", "speech_end", "onset"),
    Segment("bargein_to_silence", "Barge-in → silence", "bargein", "silence"),
)
"""Every segment, in display order."""

MARK_NAMES = frozenset(name for s in SEGMENTS for name in (s.start, s.end))
"""The mark names :meth:`LatencyMeter.mark` accepts."""


@dataclass(frozen=True, slots=True)
class SegmentStats:
    """Rolling statistics of one segment (milliseconds).

    Attributes:
        segment: which segment.
        last: the most recent value.
        p50: median over the window.
        p95: 95th percentile over the window.
        p99: 99th percentile over the window.
        count: values in the window.
        recent: the window's values, oldest first (for a sparkline).
    """

    segment: Segment
    last: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    count: int
    recent: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (without ``recent``)."""
        return {
            "segment": self.segment.key,
            "label": self.segment.label,
            "last_ms": _round(self.last),
            "p50_ms": _round(self.p50),
            "p95_ms": _round(self.p95),
            "p99_ms": _round(self.p99),
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class TurnLatency:
    """The segments measured in one turn (for a hover breakdown).

    Attributes:
        turn_id: the turn (usually the user item id or a response id).
        values: segment key → milliseconds, only for segments measured in this turn.
    """

    turn_id: str
    values: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    """An immutable view of the meter at one moment.

    Attributes:
        segments: statistics per segment, in :data:`SEGMENTS` order.
        turns: per-turn breakdowns, oldest first (at most the window).
        version: increases with every change; a reader can skip redrawing when it is unchanged.
        window: how many values per segment the percentiles cover.
    """

    segments: tuple[SegmentStats, ...]
    turns: tuple[TurnLatency, ...]
    version: int
    window: int

    def segment(self, key: str) -> SegmentStats:
        """The statistics of the segment ``key``.

        Raises:
            KeyError: unknown key.
        """
        for stats in self.segments:
            if stats.segment.key == key:
                return stats
        raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        """Summary and per-turn values as plain data."""
        return {
            "window": self.window,
            "segments": [s.as_dict() for s in self.segments],
            "turns": [
                {"turn_id": t.turn_id, **{k: _round(v) for k, v in t.values.items()}}
                for t in self.turns
            ],
        }

    def to_json(self) -> str:
        """The :meth:`as_dict` view as indented JSON."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_csv(self) -> str:
        """One row per turn: ``turn_id`` and one column (ms) per segment, empty when unmeasured."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["turn_id", *(s.key for s in SEGMENTS)])
        for turn in self.turns:
            row = [_round(turn.values.get(s.key)) for s in SEGMENTS]
            writer.writerow([turn.turn_id, *("" if v is None else v for v in row)])
        return buffer.getvalue()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class _Turn:
    __slots__ = ("marks", "values")

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.values: dict[str, float] = {}


class LatencyMeter:
    """Collects marks per turn and keeps rolling percentiles per segment.

    Args:
        window: how many recent values per segment (and turns) are kept.
    """

    def __init__(self, window: int = 100) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._window = window
        self._lock = threading.Lock()
        self._turns: OrderedDict[str, _Turn] = OrderedDict()
        self._values: dict[str, deque[float]] = {s.key: deque(maxlen=window) for s in SEGMENTS}
        self._last: dict[str, float] = {}
        self._version = 0
        self._unknown_logged: set[str] = set()
        self.rejected = 0
        """Segments dropped because their end came before their start (clock mismatch)."""
        self._snapshot = self._build()

    def mark(self, turn_id: str, name: str, t: float) -> None:
        """Record that ``name`` happened at ``t`` (monotonic seconds) in turn ``turn_id``.

        Unknown names are logged once and ignored; a repeated name in a turn keeps the first.

        Thread: the single writer (session loop).
        """
        if name not in MARK_NAMES:
            if name not in self._unknown_logged:
                self._unknown_logged.add(name)
                log.warning("unknown latency mark %r ignored", name)
            return
        with self._lock:
            turn = self._turns.get(turn_id)
            if turn is None:
                turn = self._turns[turn_id] = _Turn()
                while len(self._turns) > 2 * self._window:
                    self._turns.popitem(last=False)
            if name in turn.marks:
                return
            turn.marks[name] = t
            changed = False
            for segment in SEGMENTS:
                if name not in (segment.start, segment.end) or segment.key in turn.values:
                    continue
                start = turn.marks.get(segment.start)
                end = turn.marks.get(segment.end)
                if start is None or end is None:
                    continue
                value = (end - start) * 1000.0
                if value < 0:
                    self.rejected += 1
                    log.debug("negative %s in turn %s dropped", segment.key, turn_id)
                    continue
                turn.values[segment.key] = value
                self._values[segment.key].append(value)
                self._last[segment.key] = value
                changed = True
            if changed:
                self._version += 1
                self._snapshot = self._build()

    def snapshot(self) -> LatencySnapshot:
        """The latest immutable snapshot. Thread: any; never blocks."""
        return self._snapshot

    def to_json(self) -> str:
        """The latest snapshot as JSON (summary and per-turn values)."""
        return self._snapshot.to_json()

    def to_csv(self) -> str:
        """The latest snapshot's per-turn values as CSV."""
        return self._snapshot.to_csv()

    def _build(self) -> LatencySnapshot:
        stats = []
        for segment in SEGMENTS:
            recent = tuple(self._values[segment.key])
            stats.append(
                SegmentStats(
                    segment=segment,
                    last=self._last.get(segment.key),
                    p50=percentile(recent, 50),
                    p95=percentile(recent, 95),
                    p99=percentile(recent, 99),
                    count=len(recent),
                    recent=recent,
                )
            )
        measured = [(tid, turn) for tid, turn in self._turns.items() if turn.values]
        turns = tuple(
            TurnLatency(tid, MappingProxyType(dict(turn.values)))
            for tid, turn in measured[-self._window :]
        )
        return LatencySnapshot(tuple(stats), turns, self._version, self._window)
