"""Built-in tools: time and date, timers, arithmetic, unit conversion, remembered facts.

The computation lives in :mod:`app.skills`; this module wraps it as :class:`ToolSpec` handlers
and adds the one stateful part, :class:`TimerService`, which fires timers through an injected
callback (the driver turns a fired timer into a spoken announcement).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from app.session.memory import Memory
from app.session.tools import ToolRegistry, ToolSpec
from app.skills import (
    SkillError,
    Timer,
    TimerBook,
    convert,
    describe_date,
    describe_duration,
    describe_time,
    evaluate,
    format_number,
    parse_duration,
)

log = logging.getLogger("app.session.tools")


class Cancellable(Protocol):
    """What a scheduler returns: something that can be cancelled (``asyncio.TimerHandle``)."""

    def cancel(self) -> None:
        """Stop the scheduled call."""


Scheduler = Callable[[float, Callable[[], None]], Cancellable]
"""Calls the function after ``delay`` seconds: ``loop.call_later`` in production."""


def _loop_scheduler(delay: float, callback: Callable[[], None]) -> Cancellable:
    return asyncio.get_running_loop().call_later(delay, callback)


def _local_now() -> datetime:
    return datetime.now().astimezone()


class TimerService:
    """Running timers that announce themselves when due.

    Args:
        on_fire: called with each timer when it is due (on the loop thread); it must not block.
        clock: monotonic seconds; inject a fake in tests.
        schedule: arranges a wake-up after a delay; defaults to the running loop's
            ``call_later``. Tests inject one that records the request and call :meth:`poll`.

    Thread: the session loop thread only.
    """

    def __init__(
        self,
        on_fire: Callable[[Timer], None],
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = _loop_scheduler,
    ) -> None:
        self._on_fire = on_fire
        self._clock = clock
        self._schedule = schedule
        self._book = TimerBook()
        self._wakeup: Cancellable | None = None

    def start(self, duration: str | float, label: str = "") -> Timer:
        """Start a timer.

        Args:
            duration: seconds, or text such as ``"10 minutes"``.
            label: what it is for (optional).

        Raises:
            SkillError: unreadable or out-of-range duration.
        """
        seconds = parse_duration(duration) if isinstance(duration, str) else float(duration)
        timer = self._book.add(seconds, self._clock(), label)
        self._rearm()
        return timer

    def active(self) -> list[Timer]:
        """Running timers, soonest first."""
        return self._book.active()

    def remaining(self, timer: Timer) -> float:
        """Seconds left on ``timer`` now."""
        return timer.remaining(self._clock())

    def cancel(self, key: str) -> list[Timer]:
        """Cancel by id, label or ``"all"``; returns the cancelled timers."""
        cancelled = self._book.cancel(key)
        self._rearm()
        return cancelled

    def poll(self) -> list[Timer]:
        """Fire every due timer (each through ``on_fire``) and re-arm for the next one."""
        self._wakeup = None
        due = self._book.pop_due(self._clock())
        for timer in due:
            try:
                self._on_fire(timer)
            except Exception:
                log.exception("timer announcement failed")
        self._rearm()
        return due

    def _on_wakeup(self) -> None:
        self.poll()

    def close(self) -> None:
        """Drop the pending wake-up (timers are not persisted)."""
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None

    def _rearm(self) -> None:
        self.close()
        due = self._book.next_due()
        if due is not None:
            self._wakeup = self._schedule(max(0.0, due - self._clock()), self._on_wakeup)


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STRING = {"type": "string"}


def _clock_tools(now: Callable[[], datetime]) -> list[ToolSpec]:
    async def get_time() -> str:
        return describe_time(now())

    async def get_date() -> str:
        return describe_date(now())

    return [
        ToolSpec("get_time", "Get the current local time.", _schema({}), get_time, True, True),
        ToolSpec("get_date", "Get today's local date.", _schema({}), get_date, True, True),
    ]


def _timer_tools(timers: TimerService) -> list[ToolSpec]:
    async def set_timer(duration: str, label: str = "") -> dict[str, Any]:
        timer = timers.start(duration, label)
        return {
            "status": "set",
            "id": timer.timer_id,
            "label": timer.label,
            "duration": describe_duration(timer.duration_s),
            "note": "The user will be told when it is done.",
        }

    async def list_timers() -> dict[str, Any]:
        active = timers.active()
        return {
            "timers": [
                {
                    "id": t.timer_id,
                    "label": t.label,
                    "remaining": describe_duration(timers.remaining(t)),
                }
                for t in active
            ]
        }

    async def cancel_timer(which: str) -> dict[str, Any]:
        cancelled = timers.cancel(which)
        if not cancelled:
            raise SkillError(f"No single timer matches '{which}'.")
        return {"cancelled": [t.name for t in cancelled]}

    duration = {
        "type": "string",
        "description": "How long, in words, e.g. '10 minutes' or '1 hour and 5 minutes'.",
    }
    label = {"type": "string", "description": "What the timer is for, e.g. 'pasta'. Optional."}
    which = {"type": "string", "description": "The timer's id, its label, or 'all'."}
    return [
        ToolSpec(
            "set_timer",
            "Start a countdown timer; the user is told aloud when it ends.",
            _schema({"duration": duration, "label": label}, ("duration",)),
            set_timer,
            idempotent=False,
            interruptible=False,
        ),
        ToolSpec(
            "list_timers",
            "List running timers and the time left on each.",
            _schema({}),
            list_timers,
            idempotent=True,
            interruptible=True,
        ),
        ToolSpec(
            "cancel_timer",
            "Cancel a running timer.",
            _schema({"which": which}, ("which",)),
            cancel_timer,
            idempotent=False,
            interruptible=False,
        ),
    ]


def _math_tools() -> list[ToolSpec]:
    async def calculate(expression: str) -> dict[str, Any]:
        value = evaluate(expression)
        return {"expression": expression, "result": format_number(value, max_decimals=6)}

    async def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
        result = convert(value, from_unit, to_unit)
        return {"result": format_number(result.result), "text": result.text}

    expression = {
        "type": "string",
        "description": "Arithmetic with + - * / ** % and parentheses, e.g. '(12 * 7) / 3'.",
    }
    unit = {"type": "string", "description": "Unit name or symbol, e.g. 'km', 'miles', '°F'."}
    return [
        ToolSpec(
            "calculate",
            "Evaluate an arithmetic expression exactly. Use it instead of mental arithmetic.",
            _schema({"expression": expression}, ("expression",)),
            calculate,
            idempotent=True,
            interruptible=True,
        ),
        ToolSpec(
            "convert_units",
            "Convert between units of length, mass, volume, temperature, speed, time or data.",
            _schema(
                {"value": {"type": "number"}, "from_unit": unit, "to_unit": unit},
                ("value", "from_unit", "to_unit"),
            ),
            convert_units,
            idempotent=True,
            interruptible=True,
        ),
    ]


def _memory_tools(memory: Memory) -> list[ToolSpec]:
    # SQLite calls run in a worker thread so the loop never blocks on the disk.
    async def remember(fact: str) -> dict[str, Any]:
        saved = await asyncio.to_thread(memory.remember, fact)
        return {"status": "remembered", "id": saved.fact_id, "fact": saved.text}

    async def recall(query: str = "") -> dict[str, Any]:
        facts = await asyncio.to_thread(memory.recall, query)
        return {"facts": [f.as_dict() for f in facts]}

    async def forget(query: str) -> dict[str, Any]:
        count = await asyncio.to_thread(memory.forget, query)
        return {"forgotten": count}

    fact = {"type": "string", "description": "One short sentence, e.g. 'My sister is Ana.'"}
    query = {"type": "string", "description": "Keywords to look for; empty for everything."}
    forget_query = {"type": "string", "description": "Keywords of the fact, a fact id, or 'all'."}
    return [
        ToolSpec(
            "remember",
            "Save a fact the user wants you to remember across conversations.",
            _schema({"fact": fact}, ("fact",)),
            remember,
            idempotent=True,
            interruptible=False,
        ),
        ToolSpec(
            "recall",
            "Look up facts saved earlier.",
            _schema({"query": query}),
            recall,
            idempotent=True,
            interruptible=True,
        ),
        ToolSpec(
            "forget",
            "Delete saved facts the user wants forgotten.",
            _schema({"query": forget_query}, ("query",)),
            forget,
            idempotent=False,
            interruptible=False,
        ),
    ]


def register_builtin_tools(
    registry: ToolRegistry,
    *,
    timers: TimerService | None = None,
    memory: Memory | None = None,
    now: Callable[[], datetime] = _local_now,
) -> list[str]:
    """Register the built-in tools whose dependencies were given.

    Always: ``get_time``, ``get_date``, ``calculate``, ``convert_units``. With ``timers``:
    ``set_timer``, ``list_timers``, ``cancel_timer``. With ``memory``: ``remember``, ``recall``,
    ``forget``.

    Args:
        registry: where to register.
        timers: the timer service (its ``on_fire`` announces fired timers).
        memory: the fact store.
        now: local wall-clock time (aware datetime); injectable for tests.

    Returns:
        The names registered.
    """
    specs = _clock_tools(now) + _math_tools()
    if timers is not None:
        specs += _timer_tools(timers)
    if memory is not None:
        specs += _memory_tools(memory)
    for spec in specs:
        registry.register(spec)
    return [spec.name for spec in specs]
