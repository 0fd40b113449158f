"""Turning a recognised intent into the sentence the assistant says.

Pure computation comes from ``app.skills``; this module only phrases. The first sentence of every
answer is short so speech can start while the rest is still being synthesised.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime

from app.local.agent.intents import Intent
from app.local.agent.memory import AgentMemory, second_person
from app.skills import arithmetic, clock, timers, units
from app.skills.errors import SkillError
from app.skills.numbers import format_number

HELP = (
    "I can tell you the time and the date, set and cancel timers, do arithmetic, and convert "
    "units. I can also remember things for you, tell you what you just said, and repeat my "
    "last answer. Just ask."
)
_JOKES = (
    "Why did the computer go to the doctor? It had a virus.",
    "I told my microphone a secret. Now everyone knows.",
    "Why do programmers prefer dark mode? Because light attracts bugs.",
)


def answer(
    intent: Intent,
    memory: AgentMemory,
    now: datetime | None = None,
    clock_s: Callable[[], float] = time.monotonic,
) -> str:
    """The reply to ``intent`` (may update ``memory``: facts, timers)."""
    now = now or datetime.now()
    handler = _HANDLERS.get(intent.name, _unknown)
    try:
        return handler(intent, memory, now, clock_s())
    except SkillError as exc:
        return str(exc)


def _time(_i: Intent, _m: AgentMemory, now: datetime, _t: float) -> str:
    return clock.describe_time(now)


def _date(_i: Intent, _m: AgentMemory, now: datetime, _t: float) -> str:
    return clock.describe_date(now)


def _arithmetic(intent: Intent, _m: AgentMemory, _n: datetime, _t: float) -> str:
    value = arithmetic.evaluate(intent.slots["expression"])
    return f"That's {format_number(value)}."


def _convert(intent: Intent, _m: AgentMemory, _n: datetime, _t: float) -> str:
    result = units.convert(float(intent.slots["value"]), intent.slots["from"], intent.slots["to"])
    return result.text


def _timer_set(intent: Intent, memory: AgentMemory, _n: datetime, mono: float) -> str:
    seconds = timers.parse_duration(intent.slots["duration"])
    timer = memory.timers.add(seconds, mono, intent.slots.get("label", ""))
    length = timers.describe_duration(timer.duration_s)
    label = f" {timer.label}" if timer.label else ""
    return f"Okay. Your{label} timer for {length} starts now."


def _timer_cancel(intent: Intent, memory: AgentMemory, _n: datetime, _t: float) -> str:
    label = intent.slots.get("label", "")
    cancelled = memory.timers.cancel(label or ("all" if "all" in intent.text else "timer"))
    if not cancelled:
        running = memory.timers.active()
        if not running:
            return "You have no timers running."
        return f"Which one? You have {len(running)} timers running."
    if len(cancelled) == 1:
        return f"Okay, I cancelled {cancelled[0].name}."
    return f"Okay, I cancelled {len(cancelled)} timers."


def _timer_query(_i: Intent, memory: AgentMemory, _n: datetime, mono: float) -> str:
    running = memory.timers.active()
    if not running:
        return "You have no timers running."
    parts = [t.describe(mono) for t in running]
    return "You have " + "; ".join(parts) + "."


def _remember(intent: Intent, memory: AgentMemory, _n: datetime, _t: float) -> str:
    fact = intent.slots["fact"]
    memory.remember(fact)
    return f"Got it. I'll remember that {second_person(fact)}."


def _recall(intent: Intent, memory: AgentMemory, _n: datetime, _t: float) -> str:
    found = memory.recall(intent.slots.get("key", ""))
    if not found:
        if not memory.facts:
            return "You haven't asked me to remember anything yet."
        return "I don't remember anything about that."
    return "You told me that " + " and that ".join(second_person(f) for f in found) + "."


def _forget(intent: Intent, memory: AgentMemory, _n: datetime, _t: float) -> str:
    count = memory.forget(intent.slots["what"])
    if count == 0:
        return "I had nothing to forget about that."
    return "Okay, I've forgotten that." if count == 1 else f"Okay, I've forgotten {count} things."


def _what_did_i_say(_i: Intent, memory: AgentMemory, _n: datetime, _t: float) -> str:
    earlier = memory.said[:-1]
    if not earlier:
        return "You haven't said anything before that."
    return f'You said: "{earlier[-1]}".'


def _repeat(_i: Intent, memory: AgentMemory, _n: datetime, _t: float) -> str:
    return memory.last_reply or "I haven't said anything yet."


def _stop(_i: Intent, _m: AgentMemory, _n: datetime, _t: float) -> str:
    return "Okay."


def _greeting(_i: Intent, _m: AgentMemory, now: datetime, _t: float) -> str:
    part = "morning" if now.hour < 12 else "afternoon" if now.hour < 18 else "evening"
    return f"Good {part}! How can I help?"


def _fixed(text: str) -> Callable[[Intent, AgentMemory, datetime, float], str]:
    return lambda _i, _m, _n, _t: text


def _joke(_i: Intent, _m: AgentMemory, _n: datetime, _t: float) -> str:
    return random.choice(_JOKES)


def _unknown(intent: Intent, _m: AgentMemory, _n: datetime, _t: float) -> str:
    if intent.name == "empty":
        return "Sorry, I didn't hear anything. Could you say that again?"
    return (
        "Sorry, I can't help with that yet. "
        "I can do times and dates, timers, arithmetic, unit conversions and reminders."
    )


_HANDLERS: dict[str, Callable[[Intent, AgentMemory, datetime, float], str]] = {
    "time": _time,
    "date": _date,
    "arithmetic": _arithmetic,
    "convert": _convert,
    "timer_set": _timer_set,
    "timer_cancel": _timer_cancel,
    "timer_query": _timer_query,
    "remember": _remember,
    "recall": _recall,
    "forget": _forget,
    "what_did_i_say": _what_did_i_say,
    "repeat": _repeat,
    "stop": _stop,
    "greeting": _greeting,
    "thanks": _fixed("You're welcome."),
    "how_are_you": _fixed("I'm doing well, thanks for asking. What can I do for you?"),
    "who_are_you": _fixed("I'm VoxDesk, your offline voice assistant."),
    "help": _fixed(HELP),
    "joke": _joke,
    "goodbye": _fixed("Goodbye! Talk to you soon."),
}
