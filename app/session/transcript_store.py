"""Transcript persistence in SQLite, and session export to Markdown and JSON.

Every completed line is written in its own transaction the moment it completes, so a crash or a
disconnect loses nothing completed. The database runs in WAL mode with ``synchronous=NORMAL``:
a commit survives an application crash and costs well under a millisecond (no fsync per line),
which keeps the session loop from blocking on the disk.

Thread: any thread (one connection guarded by a lock); the session loop writes, the GUI exports.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.events import TranscriptLine
from app.metrics.latency import LatencySnapshot

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        latency_json TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS lines (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        item_id TEXT NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        unheard TEXT NOT NULL,
        interrupted INTEGER NOT NULL,
        final INTEGER NOT NULL,
        started_at REAL NOT NULL,
        wall_time REAL NOT NULL,
        PRIMARY KEY (session_id, item_id)
    )""",
)
_ROLE_NAMES = {"user": "You", "assistant": "Assistant"}


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A persisted transcript line.

    Attributes:
        item_id: the conversation item.
        role: ``"user"`` or ``"assistant"``.
        text: what was said (for an interrupted assistant turn: what was heard).
        unheard: generated but never heard.
        interrupted: the turn was cut off.
        final: the line was complete when last saved.
        wall_time: ``time.time()`` when its speech started.
    """

    item_id: str
    role: str
    text: str
    unheard: str
    interrupted: bool
    final: bool
    wall_time: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view with an ISO-8601 local timestamp."""
        return {
            "item_id": self.item_id,
            "role": self.role,
            "text": self.text,
            "unheard": self.unheard,
            "interrupted": self.interrupted,
            "final": self.final,
            "time": _iso(self.wall_time),
        }


def _iso(wall_time: float) -> str:
    return datetime.fromtimestamp(wall_time).astimezone().isoformat(timespec="seconds")


class TranscriptStore:
    """Sessions and their transcript lines in one SQLite file (created with its folder).

    Args:
        db_path: the database file, normally in the user data dir; ``":memory:"`` for tests.
    """

    def __init__(self, db_path: str | Path) -> None:
        path = str(db_path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def new_session(self, started_at: float) -> str:
        """Create a session that started at wall time ``started_at``; returns its id."""
        session_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions (id, started_at) VALUES (?, ?)", (session_id, started_at)
            )
        return session_id

    def sessions(self) -> list[tuple[str, float]]:
        """``(session_id, started_at)`` of every session, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, started_at FROM sessions ORDER BY started_at DESC"
            ).fetchall()
        return [(str(r[0]), float(r[1])) for r in rows]

    def save_line(self, session_id: str, line: TranscriptLine, wall_time: float) -> None:
        """Insert or replace the line ``line.item_id`` of the session (one transaction)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    line.item_id,
                    line.role,
                    line.text,
                    line.unheard,
                    int(line.interrupted),
                    int(line.final),
                    line.started_at,
                    wall_time,
                ),
            )

    def save_latency(self, session_id: str, snapshot: LatencySnapshot) -> None:
        """Attach the session's latency table (replacing any earlier one)."""
        with self._lock:
            self._db.execute(
                "UPDATE sessions SET latency_json = ? WHERE id = ?",
                (json.dumps(snapshot.as_dict()), session_id),
            )

    def lines(self, session_id: str) -> list[StoredLine]:
        """The session's lines, ordered by when their speech started."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id, role, text, unheard, interrupted, final, wall_time FROM lines "
                "WHERE session_id = ? ORDER BY started_at, rowid",
                (session_id,),
            ).fetchall()
        return [
            StoredLine(str(r[0]), str(r[1]), str(r[2]), str(r[3]), bool(r[4]), bool(r[5]), r[6])
            for r in rows
        ]

    def _session(self, session_id: str) -> tuple[float, dict[str, Any] | None]:
        with self._lock:
            row = self._db.execute(
                "SELECT started_at, latency_json FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"no transcript session {session_id!r}")
        latency = json.loads(row[1]) if row[1] else None
        return float(row[0]), latency

    def export_json(self, session_id: str) -> str:
        """The session as JSON: start time, lines and latency table (``null`` if none saved).

        Raises:
            KeyError: unknown session.
        """
        started_at, latency = self._session(session_id)
        document = {
            "session_id": session_id,
            "started_at": _iso(started_at),
            "lines": [line.as_dict() for line in self.lines(session_id)],
            "latency": latency,
        }
        return json.dumps(document, indent=2, ensure_ascii=False)

    def export_markdown(self, session_id: str) -> str:
        """The session as Markdown: one paragraph per line, then the latency table.

        Unheard parts of interrupted answers appear struck through after the heard text.

        Raises:
            KeyError: unknown session.
        """
        started_at, latency = self._session(session_id)
        when = datetime.fromtimestamp(started_at).astimezone().strftime("%Y-%m-%d %H:%M")
        out = [f"# VoxDesk conversation, {when}", ""]
        for line in self.lines(session_id):
            stamp = datetime.fromtimestamp(line.wall_time).astimezone().strftime("%H:%M:%S")
            speaker = _ROLE_NAMES.get(line.role, line.role.capitalize())
            body = _escape(line.text) or "…"
            if line.interrupted:
                body += f" ~~{_escape(line.unheard)}~~" if line.unheard else ""
                body += " *(interrupted)*"
            out += [f"**{speaker}** ({stamp}): {body}", ""]
        out += _latency_markdown(latency)
        return "\n".join(out).rstrip() + "\n"


def _escape(text: str) -> str:
    return " ".join(text.replace("~", "\\~").replace("*", "\\*").split())


def _cell(value: object) -> str:
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _latency_markdown(latency: dict[str, Any] | None) -> list[str]:
    if not latency:
        return ["## Latency", "", "No latency measured."]
    rows = [
        "## Latency (ms)",
        "",
        f"Rolling over the last {latency.get('window', '?')} turns.",
        "",
        "| Segment | Last | P50 | P95 | P99 | Turns |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for seg in latency.get("segments", []):
        cells = [seg.get(k) for k in ("last_ms", "p50_ms", "p95_ms", "p99_ms", "count")]
        rows.append(
            f"| {seg.get('label', seg.get('segment'))} | " + " | ".join(map(_cell, cells)) + " |"
        )
    return rows
