"""Pinned facts, persisted in SQLite and injected into the instructions of every session.

Facts are short sentences the user pinned ("remember that my sister is called Ana") or the model
saved through the ``remember`` tool.

Thread: safe to call from any thread (one connection guarded by a lock); the session loop calls it
from tool handlers, the GUI may list facts. Each call is one short transaction.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("app.session.memory")

MAX_FACT_CHARS = 500
"""Longer facts are refused: a fact is a sentence, not a document."""

MAX_FACTS_IN_INSTRUCTIONS = 50
"""Only the newest facts go into the instructions, keeping the prompt small."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    norm TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
)
"""
_WORD = re.compile(r"[\w']+")
_STOP_WORDS = frozenset(
    "a an the my me i is are was of to that about what do you know remember recall forget "
    "please fact facts".split()
)


@dataclass(frozen=True, slots=True)
class Fact:
    """One remembered fact.

    Attributes:
        fact_id: stable id (use it to forget exactly this fact).
        text: the fact as the user or the model phrased it.
        created_at: wall-clock time (``time.time()``) it was saved.
    """

    fact_id: int
    text: str
    created_at: float

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view for tool outputs."""
        return {"id": self.fact_id, "text": self.text}


def _normalize(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _keywords(query: str) -> list[str]:
    words = _WORD.findall(query.lower())
    return [w for w in words if w not in _STOP_WORDS] or words


class Memory:
    """Pinned facts in a SQLite file (created with its folder if missing).

    Args:
        db_path: the database file, normally in the user data dir; ``":memory:"`` for tests.
        clock: wall clock for ``created_at``.
    """

    def __init__(self, db_path: str | Path, clock: Callable[[], float] = time.time) -> None:
        path = str(db_path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL without an fsync per commit: a fact survives an application crash, and a tool
        # handler on the session loop never waits for the disk.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def remember(self, text: str) -> Fact:
        """Save a fact; saving the same fact again returns the existing one.

        Raises:
            ValueError: empty or longer than :data:`MAX_FACT_CHARS`.
        """
        cleaned = " ".join(text.split())
        norm = _normalize(cleaned)
        if not norm:
            raise ValueError("There is nothing to remember.")
        if len(cleaned) > MAX_FACT_CHARS:
            raise ValueError(f"That is too long to remember (over {MAX_FACT_CHARS} characters).")
        with self._lock:
            row = self._db.execute(
                "SELECT id, text, created_at FROM facts WHERE norm = ?", (norm,)
            ).fetchone()
            if row is None:
                created = self._clock()
                cursor = self._db.execute(
                    "INSERT INTO facts (text, norm, created_at) VALUES (?, ?, ?)",
                    (cleaned, norm, created),
                )
                row = (cursor.lastrowid, cleaned, created)
        log.debug("remembered fact %s", row[0])
        return Fact(int(row[0]), str(row[1]), float(row[2]))

    def facts(self) -> list[Fact]:
        """Every fact, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, text, created_at FROM facts ORDER BY id").fetchall()
        return [Fact(int(r[0]), str(r[1]), float(r[2])) for r in rows]

    def recall(self, query: str = "") -> list[Fact]:
        """Facts matching ``query``, best match first (all facts for an empty query).

        A fact matches when it contains at least one keyword of the query (filler words such as
        "what", "my", "about" are ignored); more shared keywords rank higher, then newer facts.
        """
        facts = self.facts()
        keywords = _keywords(query)
        if not keywords:
            return facts
        scored = []
        for fact in facts:
            words = set(_WORD.findall(fact.text.lower()))
            score = sum(1 for k in keywords if k in words or any(w.startswith(k) for w in words))
            if score:
                scored.append((score, fact))
        scored.sort(key=lambda pair: (-pair[0], -pair[1].fact_id))
        return [fact for _score, fact in scored]

    def forget(self, query_or_id: str | int) -> int:
        """Delete facts by id, all of them, or those matching a query.

        Args:
            query_or_id: an id (``3`` or ``"3"``), ``"all"``/``"everything"``, or a query: every
                fact containing all its keywords is deleted.

        Returns:
            How many facts were deleted.
        """
        key = str(query_or_id).strip()
        with self._lock:
            if key.isdigit():
                return self._db.execute("DELETE FROM facts WHERE id = ?", (int(key),)).rowcount
            if key.lower() in ("all", "everything", "all facts"):
                return self._db.execute("DELETE FROM facts").rowcount
        keywords = _keywords(key)
        if not keywords:
            return 0
        doomed = [
            fact.fact_id
            for fact in self.facts()
            if all(k in set(_WORD.findall(fact.text.lower())) for k in keywords)
        ]
        with self._lock:
            for fact_id in doomed:
                self._db.execute("DELETE FROM facts WHERE id = ?", (fact_id,))
        return len(doomed)

    def instructions_block(self) -> str:
        """Text to append to the session instructions ("" when nothing is remembered)."""
        facts = self.facts()[-MAX_FACTS_IN_INSTRUCTIONS:]
        if not facts:
            return ""
        lines = "\n".join(f"- {fact.text}" for fact in facts)
        return (
            "Facts the user asked you to remember (use them when relevant; "
            "they can be changed with the remember and forget tools):\n" + lines
        )
