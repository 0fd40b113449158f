"""Pure, offline skills: arithmetic, unit conversion, time and date sentences, timers, numbers.

No I/O, no clocks, no state beyond :class:`TimerBook`: the built-in tools
(``app/session/builtin_tools.py``) and the embedded local engine (``app/local``) both call these.
Every function raises :class:`SkillError` with a message fit to be spoken when the input is bad.
"""

from __future__ import annotations

from app.skills.arithmetic import evaluate, normalize_expression
from app.skills.clock import describe_date, describe_time
from app.skills.errors import SkillError
from app.skills.numbers import (
    format_number,
    number_to_words,
    ordinal_words,
    replace_number_words,
    words_to_number,
)
from app.skills.timers import Timer, TimerBook, describe_duration, parse_duration
from app.skills.units import ConversionResult, Unit, convert, find_unit

__all__ = [
    "ConversionResult",
    "SkillError",
    "Timer",
    "TimerBook",
    "Unit",
    "convert",
    "describe_date",
    "describe_duration",
    "describe_time",
    "evaluate",
    "find_unit",
    "format_number",
    "normalize_expression",
    "number_to_words",
    "ordinal_words",
    "parse_duration",
    "replace_number_words",
    "words_to_number",
]
