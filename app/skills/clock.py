"""Natural sentences for the time and the date.

The caller passes ``now`` (a :class:`datetime.datetime`), so these functions are pure and tests
need no clock.
"""

from __future__ import annotations

from datetime import datetime

from app.skills.numbers import number_to_words, ordinal_words

_HOUR_WORDS = ("twelve one two three four five six seven eight nine ten eleven twelve").split()


def _part_of_day(hour: int) -> str:
    if hour < 12:
        return "in the morning"
    if hour < 18:
        return "in the afternoon"
    return "in the evening"


def _time_in_words(now: datetime) -> str:
    hour, minute = now.hour, now.minute
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    if minute == 0:
        return f"{_HOUR_WORDS[hour % 12]} o'clock {_part_of_day(hour)}"
    if minute <= 30:
        past = {15: "quarter", 30: "half"}.get(minute, number_to_words(minute))
        if minute not in (15, 30):
            past += " minute" if minute == 1 else " minutes"
        return f"{past} past {_hour_name(hour)}"
    to_minutes = 60 - minute
    to = "quarter" if to_minutes == 15 else number_to_words(to_minutes)
    if to_minutes != 15:
        to += " minute" if to_minutes == 1 else " minutes"
    return f"{to} to {_hour_name((hour + 1) % 24)}"


def _hour_name(hour: int) -> str:
    if hour == 0:
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{_HOUR_WORDS[hour % 12]} {_part_of_day(hour)}"


def describe_time(now: datetime, *, words: bool = False) -> str:
    """Say what time it is.

    Args:
        now: the local time to describe.
        words: spell it for a speech synthesiser ("It's quarter past three in the afternoon.")
            instead of digits ("It's 3:15 PM.").

    Returns:
        One sentence.
    """
    if words:
        return f"It's {_time_in_words(now)}."
    hour12 = now.hour % 12 or 12
    suffix = "AM" if now.hour < 12 else "PM"
    return f"It's {hour12}:{now.minute:02d} {suffix}."


def describe_date(now: datetime, *, words: bool = False) -> str:
    """Say what day it is.

    Args:
        now: the local date and time to describe.
        words: spell the day as an ordinal ("Today is Tuesday, the fourth of March, 2025.")
            instead of "Today is Tuesday, March 4, 2025.".

    Returns:
        One sentence.
    """
    weekday = now.strftime("%A")
    month = now.strftime("%B")
    if words:
        return f"Today is {weekday}, the {ordinal_words(now.day)} of {month}, {now.year}."
    return f"Today is {weekday}, {month} {now.day}, {now.year}."
