"""Per-response stage timings of the local engine, for the engine bench.

A :class:`ResponseTiming` collects monotonic marks (milliseconds of ``time.perf_counter``) while a
response runs: the end of the user's turn, the transcript being ready, the agent's decision, the
first synthesised chunk, the first and last audio delta handed to the socket, a cancel being
received and ``response.done``. When the response ends, the record is given to an optional sink
(``voxdesk serve --timings FILE`` writes one JSON line per response).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("app.local.timing")

TimingSink = Callable[[dict[str, Any]], None]


def now_ms() -> float:
    """Monotonic milliseconds (the clock every mark uses)."""
    return time.perf_counter() * 1000.0


@dataclass
class ResponseTiming:
    """Marks of one response; only the first value of a mark is kept, except ``last_delta``.

    Attributes:
        turn_end: when the user's turn ended (VAD ``speech_stopped`` or ``commit``), if the
            response answers a turn that just ended.
        marks: mark name → monotonic ms.
        info: extra facts (e.g. whether the speculative transcript was reused).
    """

    turn_end: float | None = None
    marks: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def mark(self, name: str, at: float | None = None) -> None:
        """Record ``name`` now (or at ``at``) unless already recorded."""
        self.marks.setdefault(name, now_ms() if at is None else at)

    def mark_delta(self) -> None:
        """Record an audio delta handed to the socket (first and last are kept)."""
        at = now_ms()
        self.marks.setdefault("first_delta", at)
        self.marks["last_delta"] = at

    def record(self, response_id: str, status: str) -> dict[str, Any]:
        """The JSON-ready record: every mark relative to the turn end (or response start)."""
        origin = self.turn_end if self.turn_end is not None else self.marks.get("created", 0.0)
        rel = {k: round(v - origin, 2) for k, v in self.marks.items()}
        record: dict[str, Any] = {
            "response_id": response_id,
            "status": status,
            "from_turn_end": self.turn_end is not None,
            "ms": rel,
            **self.info,
        }
        cancel = self.marks.get("cancel_received")
        if cancel is not None:
            last = self.marks.get("last_delta")
            record["cancel_to_last_delta_ms"] = round(last - cancel, 2) if last else None
            done = self.marks.get("done")
            record["cancel_to_done_ms"] = round(done - cancel, 2) if done else None
        return record


class JsonlSink:
    """Appends each timing record as one JSON line to ``path`` (line-buffered, thread-safe)."""

    def __init__(self, path: Path) -> None:
        self._file: TextIO = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        """Write one record."""
        with self._lock:
            self._file.write(json.dumps(record, sort_keys=True) + "\n")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()
