"""Timer bookkeeping without a clock: durations parsed from speech, timers added, due, cancelled.

Everything takes ``now`` (seconds on any monotonic scale) from the caller, so the scheduling
side (``app/session/builtin_tools.py``) decides which clock to use and tests can fake it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.skills.errors import SkillError
from app.skills.numbers import format_number, replace_number_words

MAX_TIMER_SECONDS = 7 * 86400.0
"""The longest timer accepted (one week)."""

_UNIT_SECONDS = {
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_UNIT_RE = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_AMOUNT = re.compile(
    rf"(?:(?P<num>\d+(?:\.\d+)?)\s*|\b(?P<word>half an?|an?)\s+)(?P<unit>{_UNIT_RE})\b"
    r"(?P<half>\s+and a half)?"
)
_CONNECTORS = re.compile(r"\b(?:and|for|in|a|of|timer)\b|[,\s]")


def parse_duration(text: str) -> float:
    """Read a spoken or written duration.

    Accepts e.g. ``"10 minutes"``, ``"1 hour and 5 minutes"``, ``"an hour and a half"``,
    ``"half an hour"``, ``"ninety seconds"``, ``"1.5 hours"``, ``"2h 30m"``.

    Args:
        text: the duration and nothing else (connectors like "and", "for", "in" are fine).

    Returns:
        Seconds, greater than zero.

    Raises:
        SkillError: if no duration is found, words are left over, or it is zero or over a week.
    """
    normalized = replace_number_words(text.lower()).replace("-", " ")
    total = 0.0
    found = False
    leftover = normalized
    for match in _AMOUNT.finditer(normalized):
        word = match.group("word")
        if word:
            amount = 0.5 if word.startswith("half") else 1.0
        else:
            amount = float(match.group("num"))
        if match.group("half"):
            amount += 0.5
        total += amount * _UNIT_SECONDS[match.group("unit")]
        found = True
        leftover = leftover.replace(match.group(0), " ", 1)
    if not found or _CONNECTORS.sub("", leftover):
        raise SkillError(f"I couldn't understand '{text.strip()}' as a duration.")
    if total <= 0:
        raise SkillError("A timer needs a duration longer than zero.")
    if total > MAX_TIMER_SECONDS:
        raise SkillError("Timers can be at most one week long.")
    return total


def describe_duration(seconds: float) -> str:
    """Say a duration: 3900 → ``"1 hour and 5 minutes"``, 42.4 → ``"42 seconds"``.

    Rounded to whole seconds; zero and below read as ``"0 seconds"``.
    """
    remaining = max(0, round(seconds))
    parts: list[str] = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass(frozen=True, slots=True)
class Timer:
    """One timer.

    Attributes:
        timer_id: small positive number, unique within its :class:`TimerBook`.
        label: what it is for (``"pasta"``), or empty.
        duration_s: the length it was set for.
        due_at: when it fires, on the caller's clock.
    """

    timer_id: int
    label: str
    duration_s: float
    due_at: float

    @property
    def name(self) -> str:
        """``"the pasta timer"`` or ``"the 10 minutes timer"``."""
        return f"the {self.label or describe_duration(self.duration_s)} timer"

    def remaining(self, now: float) -> float:
        """Seconds left at ``now`` (zero once due)."""
        return max(0.0, self.due_at - now)

    def describe(self, now: float) -> str:
        """``"the pasta timer: 4 minutes and 12 seconds left"``."""
        return f"{self.name}: {describe_duration(self.remaining(now))} left"

    def announcement(self) -> str:
        """What to say when it fires: ``"Your pasta timer for 10 minutes is done."``."""
        length = describe_duration(self.duration_s)
        if self.label:
            return f"Your {self.label} timer for {length} is done."
        return f"Your {length} timer is done."

    def as_dict(self, now: float) -> dict[str, object]:
        """A JSON-friendly view (remaining seconds rounded to one decimal)."""
        return {
            "id": self.timer_id,
            "label": self.label,
            "duration_s": self.duration_s,
            "remaining_s": float(format_number(self.remaining(now), max_decimals=1)),
        }


class TimerBook:
    """The set of running timers. Pure bookkeeping: it never reads a clock.

    Thread: owned by one thread (the session loop); not synchronised.
    """

    def __init__(self) -> None:
        self._timers: dict[int, Timer] = {}
        self._next_id = 1

    def add(self, seconds: float, now: float, label: str = "") -> Timer:
        """Start a timer of ``seconds`` at ``now``.

        Raises:
            SkillError: for a non-positive duration or one over a week.
        """
        if not 0 < seconds <= MAX_TIMER_SECONDS:
            raise SkillError("A timer must last between one second and one week.")
        timer = Timer(self._next_id, " ".join(label.split()), float(seconds), now + seconds)
        self._timers[timer.timer_id] = timer
        self._next_id += 1
        return timer

    def active(self) -> list[Timer]:
        """Running timers, soonest first."""
        return sorted(self._timers.values(), key=lambda t: (t.due_at, t.timer_id))

    def next_due(self) -> float | None:
        """When the soonest timer fires, or ``None`` if there is none."""
        return min((t.due_at for t in self._timers.values()), default=None)

    def pop_due(self, now: float) -> list[Timer]:
        """Remove and return every timer due at ``now``, soonest first."""
        due = [t for t in self.active() if t.due_at <= now]
        for timer in due:
            del self._timers[timer.timer_id]
        return due

    def cancel(self, key: str) -> list[Timer]:
        """Cancel timers by id (``"2"``), label (``"pasta"``) or ``"all"``.

        Args:
            key: an id, a label (case-insensitive; "the pasta timer" works too), or "all".

        Returns:
            The cancelled timers (empty if nothing matched).
        """
        wanted = " ".join(key.lower().split())
        wanted = re.sub(r"^(?:the|my)\s+|\s+timers?$", "", wanted)
        if wanted in ("all", "every", "all the", "all of the", "timer", "timers", ""):
            hits = self.active() if wanted in ("all", "every", "all the", "all of the") else []
            if not hits and len(self._timers) == 1:
                hits = self.active()
        elif wanted.isdigit():
            hits = [t for t in self.active() if t.timer_id == int(wanted)]
        else:
            hits = [t for t in self.active() if t.label.lower() == wanted]
        for timer in hits:
            del self._timers[timer.timer_id]
        return hits
