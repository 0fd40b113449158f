"""Live transcripts: user and assistant lines by item id, ordered by when speech started.

Interrupted assistant turns keep the heard and unheard parts apart.

:class:`Transcript` turns provider transcript events into :class:`app.events.TranscriptLine`
snapshots for an observer and hands every completed line to a :class:`TranscriptStore`
(``app/session/transcript_store.py``), which persists it at once.

How the driver feeds it:

- ``input_audio_buffer.speech_started`` → :meth:`Transcript.user_started` (optional; gives the
  ordering time); ``…input_audio_transcription.delta`` → :meth:`Transcript.user_delta`;
  ``.completed`` → :meth:`Transcript.user_done`; ``.failed`` → :meth:`Transcript.user_failed`.
- ``response.output_audio_transcript.delta`` → :meth:`Transcript.assistant_delta`; decoded audio
  deltas → :meth:`Transcript.assistant_audio` (milliseconds received); ``.done`` →
  :meth:`Transcript.assistant_done`; a barge-in truncate → :meth:`Transcript.assistant_truncated`.

Splitting an interrupted answer: the text known when the truncate happens is split in proportion
to ``heard_ms / total_ms`` (total defaults to the audio received so far), at the nearest word
boundary. Text arriving afterwards belongs to audio never played, so it is unheard.

Thread: the session loop thread only. Observer calls must not block.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.events import TranscriptLine
from app.metrics.latency import LatencySnapshot
from app.session.transcript_store import StoredLine, TranscriptStore

log = logging.getLogger("app.session.transcripts")

CHARS_PER_SECOND = 15.0
"""Typical speaking rate (~150 words per minute), used only when no audio length is known."""

__all__ = ["CHARS_PER_SECOND", "StoredLine", "Transcript", "TranscriptStore", "split_heard"]


def split_heard(text: str, fraction: float) -> tuple[str, str]:
    """Split ``text`` at the word boundary nearest to ``fraction`` of its length.

    Args:
        text: the full text.
        fraction: the heard share, clamped to 0..1.

    Returns:
        ``(heard, unheard)``, stripped of the whitespace at the cut.
    """
    fraction = min(1.0, max(0.0, fraction))
    cut = _nearest_boundary(text, round(len(text) * fraction))
    return text[:cut].rstrip(), text[cut:].lstrip()


def _nearest_boundary(text: str, index: int) -> int:
    """The index of the word boundary nearest ``index`` (ties go to the earlier one)."""
    if index <= 0 or index >= len(text):
        return max(0, min(index, len(text)))
    if text[index].isspace() or text[index - 1].isspace():
        return index
    back = index
    while back > 0 and not text[back - 1].isspace():
        back -= 1
    forward = index
    while forward < len(text) and not text[forward].isspace():
        forward += 1
    return back if index - back <= forward - index else forward


@dataclass
class _Line:
    item_id: str
    role: str
    started_at: float
    wall_time: float
    text: str = ""
    final: bool = False
    interrupted: bool = False
    heard_chars: int | None = None
    pending_heard_ms: float | None = None
    audio_ms: float = 0.0

    def parts(self) -> tuple[str, str]:
        if not self.interrupted:
            return self.text, ""
        if self.heard_chars is None and self.pending_heard_ms is not None and self.text:
            # Truncated before any text arrived: estimate from the speaking rate.
            estimate = self.pending_heard_ms / 1000.0 * CHARS_PER_SECOND
            return split_heard(self.text, estimate / len(self.text))
        cut = _nearest_boundary(self.text, self.heard_chars or 0)
        return self.text[:cut].rstrip(), self.text[cut:].lstrip()


class Transcript:
    """The transcript of one session.

    Args:
        store: where completed lines are persisted, or ``None`` for memory only.
        observer: receives a :class:`TranscriptLine` on every change, or ``None``.
        session_id: the store's session to append to; a new one is created if omitted.
        clock: monotonic clock for ``started_at`` when the caller gives none.
        wall_clock: wall clock for the timestamps shown in exports.
    """

    def __init__(
        self,
        store: TranscriptStore | None,
        observer: Callable[[object], None] | None = None,
        *,
        session_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock
        self._wall_clock = wall_clock
        self._lines: dict[str, _Line] = {}
        self.session_id = session_id or (store.new_session(wall_clock()) if store else "")

    # -- user --------------------------------------------------------------------------------

    def user_started(self, item_id: str, started_at: float) -> None:
        """The user's speech for ``item_id`` started at ``started_at`` (monotonic seconds)."""
        line = self._line(item_id, "user", started_at)
        line.started_at = started_at
        line.wall_time = self._wall_clock() - (self._clock() - started_at)

    def user_delta(self, item_id: str, delta: str, started_at: float | None = None) -> None:
        """Append a piece of the user's transcription."""
        line = self._line(item_id, "user", started_at)
        if line.final:
            return
        line.text += delta
        self._publish(line)

    def user_done(self, item_id: str, text: str) -> None:
        """The user's transcription is complete (it replaces the deltas)."""
        line = self._line(item_id, "user", None)
        line.text = text.strip()
        line.final = True
        self._publish(line, persist=True)

    def user_failed(self, item_id: str) -> None:
        """Transcription of the user's speech failed: keep what was there, mark it final."""
        line = self._line(item_id, "user", None)
        line.final = True
        self._publish(line, persist=True)

    # -- assistant ---------------------------------------------------------------------------

    def assistant_started(self, item_id: str, started_at: float) -> None:
        """The assistant's item began (e.g. its first audio reached the speaker)."""
        self._line(item_id, "assistant", started_at)

    def assistant_delta(self, item_id: str, delta: str) -> None:
        """Append a piece of the assistant's output transcript."""
        line = self._line(item_id, "assistant", None)
        line.text += delta
        self._publish(line, persist=line.final)

    def assistant_audio(self, item_id: str, ms: float) -> None:
        """``ms`` more milliseconds of this item's audio were received (for the heard split)."""
        self._line(item_id, "assistant", None).audio_ms += ms

    def assistant_done(self, item_id: str, text: str) -> None:
        """The assistant's transcript is complete (also sent for cancelled responses)."""
        line = self._line(item_id, "assistant", None)
        if text or not line.text:
            line.text = text
        line.final = True
        self._publish(line, persist=True)

    def assistant_truncated(
        self, item_id: str, heard_ms: float, total_ms: float | None = None
    ) -> None:
        """A barge-in cut the assistant's item after ``heard_ms`` of audio reached the user.

        Args:
            item_id: the assistant item.
            heard_ms: audio played to the user (the truncate's ``audio_end_ms``).
            total_ms: audio the text known now corresponds to; defaults to the audio received
                (:meth:`assistant_audio`), else to an estimate from the speaking rate.
        """
        line = self._line(item_id, "assistant", None)
        line.interrupted = True
        line.final = True
        if line.text:
            total = total_ms or line.audio_ms or len(line.text) / CHARS_PER_SECOND * 1000.0
            fraction = 1.0 if total <= 0 else heard_ms / total
            heard, _ = split_heard(line.text, fraction)
            line.heard_chars = len(heard)
        else:
            line.pending_heard_ms = heard_ms
        self._publish(line, persist=True)

    # -- reading -----------------------------------------------------------------------------

    def lines(self) -> list[TranscriptLine]:
        """Every line, ordered by when its speech started."""
        ordered = sorted(self._lines.values(), key=lambda ln: ln.started_at)
        return [self._snapshot(line) for line in ordered]

    def save_latency(self, snapshot: LatencySnapshot) -> None:
        """Store the session's latency table with the transcript (for exports)."""
        if self._store is not None:
            self._store.save_latency(self.session_id, snapshot)

    # -- internals ---------------------------------------------------------------------------

    def _line(self, item_id: str, role: str, started_at: float | None) -> _Line:
        line = self._lines.get(item_id)
        if line is None:
            now = self._clock()
            start = now if started_at is None else started_at
            wall = self._wall_clock() - (now - start)
            line = self._lines[item_id] = _Line(item_id, role, start, wall)
        elif line.role != role:
            log.warning("item %s seen as %s and %s", item_id, line.role, role)
        return line

    def _snapshot(self, line: _Line) -> TranscriptLine:
        heard, unheard = line.parts()
        return TranscriptLine(
            item_id=line.item_id,
            role=line.role,
            text=heard,
            final=line.final,
            started_at=line.started_at,
            unheard=unheard,
            interrupted=line.interrupted,
        )

    def _publish(self, line: _Line, persist: bool = False) -> None:
        snapshot = self._snapshot(line)
        if persist and self._store is not None:
            try:
                self._store.save_line(self.session_id, snapshot, line.wall_time)
            except Exception:
                log.exception("could not persist transcript line %s", line.item_id)
        if self._observer is not None:
            try:
                self._observer(snapshot)
            except Exception:
                log.exception("transcript observer failed")
