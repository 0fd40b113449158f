"""A fake ``PlaybackSink`` for driver tests: records every request, plays nothing.

Everything queued counts as heard unless a test sets ``played``; ``onset_value`` and ``last`` let
a test say when the "DAC" played the first and last samples.
"""

from __future__ import annotations

import threading
from typing import Any


class FakePlayback:
    """Records what the driver asks of the playback side (thread-safe enough for the tests)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.queued: dict[str, float] = {}
        self.played: float | None = None
        self.onset: dict[str, float] = {}
        self.onset_value: float | None = None
        self.last: float | None = None
        self.flushes = 0
        self.lock = threading.Lock()

    def enqueue(
        self, pcm16: bytes, sample_rate: int, response_id: str, item_id: str, content_index: int
    ) -> None:
        with self.lock:
            ms = len(pcm16) / (sample_rate * 2 / 1000)
            self.queued[item_id] = self.queued.get(item_id, 0.0) + ms
            if self.onset_value is not None:
                self.onset.setdefault(item_id, self.onset_value)
            self.calls.append(("enqueue", item_id))

    def end_response(self, response_id: str) -> None:
        self.calls.append(("end_response", response_id))

    def flush(self) -> int:
        self.flushes += 1
        self.calls.append(("flush", None))
        return self.flushes

    def mark_stale(self, response_id: str) -> None:
        self.calls.append(("mark_stale", response_id))

    def duck(self, gain: float) -> None:
        self.calls.append(("duck", gain))

    def resume(self) -> None:
        self.calls.append(("resume", None))

    def played_ms(self, item_id: str) -> float:
        return self.queued.get(item_id, 0.0) if self.played is None else self.played

    def onset_at(self, item_id: str, final: bool = False) -> float | None:
        return self.onset.get(item_id)

    def last_audible_at(self) -> float | None:
        return self.last

    def names(self) -> list[str]:
        """The requests other than enqueue/end_response, in order."""
        return [name for name, _ in self.calls if name not in ("enqueue", "end_response")]
