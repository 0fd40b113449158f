"""Spoken numbers: integers and decimals to English words and back, plus display formatting.

Pure functions with no state; used by the other skills to understand "twelve times seven" and
by the local engine to say results aloud.
"""

from __future__ import annotations

import math
import re

from app.skills.errors import SkillError

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))

_SMALL_VALUES: dict[str, int] = {word: i for i, word in enumerate(_ONES)}
_SMALL_VALUES.update({word: 10 * i for i, word in enumerate(_TENS) if word != "_"})
_SCALE_VALUES: dict[str, int] = {name: value for value, name in _SCALES}
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_MAX_WORDS_VALUE = 10**15

NUMBER_WORDS = frozenset(
    {
        *_SMALL_VALUES,
        *_SCALE_VALUES,
        "hundred",
        "and",
        "point",
        "oh",
        "minus",
        "negative",
        "a",
        "an",
    }
)
"""Every word :func:`words_to_number` can consume (``and``/``a``/``an`` only inside a number)."""


def _int_to_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else "-" + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = _ONES[hundreds] + " hundred"
        return head if rest == 0 else f"{head} and {_int_to_words(rest)}"
    for value, name in _SCALES:
        if n >= value:
            head_count, rest = divmod(n, value)
            head = f"{_int_to_words(head_count)} {name}"
            if rest == 0:
                return head
            joiner = " and " if rest < 100 else " "
            return head + joiner + _int_to_words(rest)
    raise AssertionError("unreachable")  # pragma: no cover


def number_to_words(value: float, max_decimals: int = 3) -> str:
    """Spell a number the way it is said in English.

    Args:
        value: the number; integral floats are spoken as integers.
        max_decimals: decimals kept after rounding (digits are then spoken one by one).

    Returns:
        e.g. ``"one hundred and five"``, ``"minus three point one four"``.

    Raises:
        SkillError: for NaN, infinity or magnitudes of a quadrillion and more.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise SkillError("That number is not finite.")
    if abs(value) >= _MAX_WORDS_VALUE:
        raise SkillError("That number is too large to say.")
    text = format_number(value, max_decimals=max_decimals)
    negative = text.startswith("-")
    text = text.lstrip("-")
    whole, _, decimals = text.partition(".")
    words = _int_to_words(int(whole))
    if decimals:
        words += " point " + " ".join(_ONES[int(d)] for d in decimals)
    return ("minus " + words) if negative else words


def ordinal_words(n: int) -> str:
    """Spell an ordinal: 1 → ``"first"``, 22 → ``"twenty-second"``, 100 → ``"one hundredth"``.

    Raises:
        SkillError: for numbers below 1.
    """
    if n < 1:
        raise SkillError("Ordinals start at one.")
    words = _int_to_words(n)
    head, sep, last = words.rpartition("-") if "-" in words.split()[-1] else ("", "", words)
    if not sep:
        head, _, last = words.rpartition(" ")
        sep = " " if head else ""
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{last}"


def format_number(value: float, max_decimals: int = 3) -> str:
    """Format a number for display: no trailing zeros, no exponent, ``-0`` shown as ``0``.

    Small non-zero values keep enough decimals to show three significant digits.

    Args:
        value: the number.
        max_decimals: decimals kept for values of magnitude 1 or more.

    Returns:
        e.g. ``"84"``, ``"6.214"``, ``"0.000123"``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    decimals = max_decimals
    magnitude = abs(value)
    if magnitude < 1:
        decimals = max(max_decimals, 2 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _parse_small_group(tokens: list[str]) -> int:
    """Value of tokens below a thousand, e.g. ``["two", "hundred", "and", "five"]``."""
    hundreds = 0
    current = 0
    stage = 0  # 0 start, 1 after "hundred", 2 after tens, 3 after a unit or a teen
    for index, token in enumerate(tokens):
        if token == "and":
            if stage != 1:
                raise SkillError("'and' only follows 'hundred' in a number.")
            continue
        if token in ("a", "an"):
            if index != 0:
                raise SkillError(f"'{token}' cannot be inside a number.")
            token = "one"
        if token == "hundred":
            if hundreds or not 1 <= current < 100 or stage == 1:
                raise SkillError("'hundred' is misplaced.")
            hundreds, current, stage = current * 100, 0, 1
            continue
        value = _SMALL_VALUES.get(token)
        if value is None:
            raise SkillError(f"'{token}' is not a number word.")
        if value >= 20 and stage in (0, 1):
            stage = 2
        elif value < 10 and stage in (0, 1, 2):
            stage = 3
        elif 10 <= value < 20 and stage in (0, 1):
            stage = 3
        else:
            raise SkillError("Those number words don't make one number.")
        current += value
    if stage == 0:
        raise SkillError("No number found.")
    return hundreds + current


def _parse_integer_words(tokens: list[str]) -> int:
    total = 0
    group: list[str] = []
    last_scale = _MAX_WORDS_VALUE
    for token in tokens:
        if token in _SCALE_VALUES:
            scale = _SCALE_VALUES[token]
            if scale >= last_scale:
                raise SkillError("Those number words don't make one number.")
            total += (_parse_small_group(group) if group else 1) * scale
            group, last_scale = [], scale
        else:
            group.append(token)
    if total and group and group[0] == "and":
        group = group[1:]
    if group or not total:
        total += _parse_small_group(group)
    return total


def words_to_number(text: str) -> float:
    """Read a number said in words (or digits): ``"twelve"``, ``"two thousand and five"``.

    Also accepts ``"minus three point five"``, ``"a hundred"``, and plain digits such as ``"12.5"``
    or ``"1,000"``.

    Args:
        text: the number, and nothing else.

    Returns:
        The value as a float.

    Raises:
        SkillError: if the text is not a number.
    """
    cleaned = text.strip().lower().replace(",", "")
    try:
        return float(cleaned)
    except ValueError:
        pass
    tokens = [t for t in re.split(r"[\s-]+", cleaned) if t]
    if not tokens:
        raise SkillError("No number found.")
    sign = 1.0
    if tokens[0] in ("minus", "negative"):
        sign = -1.0
        tokens = tokens[1:]
    whole_tokens, decimal_tokens = tokens, []
    if "point" in tokens:
        at = tokens.index("point")
        whole_tokens, decimal_tokens = tokens[:at], tokens[at + 1 :]
        if not decimal_tokens:
            raise SkillError("A number can't end with 'point'.")
    whole = _parse_integer_words(whole_tokens) if whole_tokens else 0
    digits = ""
    for token in decimal_tokens:
        digit = 0 if token == "oh" else _SMALL_VALUES.get(token)
        if digit is None or digit > 9:
            if token.isdigit():
                digits += token
                continue
            raise SkillError(f"'{token}' is not a digit.")
        digits += str(digit)
    return sign * float(f"{whole}.{digits or '0'}")


_WORD = re.compile(r"[A-Za-z]+")


def replace_number_words(text: str) -> str:
    """Replace every run of number words in a sentence by its digits.

    ``"what is twelve times seven"`` → ``"what is 12 times 7"``. Words that are not numbers keep
    their case; ``a``/``an`` are only read as one before ``hundred``/``thousand``…, and ``and``
    only inside a number (``"one and two"`` stays two numbers).

    Args:
        text: any sentence.

    Returns:
        The sentence with digits.
    """
    words = list(_WORD.finditer(text))
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(words):
        best_end = -1
        best_value = 0.0
        # Grow the run word by word (only whitespace/hyphen between) and keep the longest parse.
        j = i
        while j < len(words):
            token = words[j].group(0).lower()
            if token not in NUMBER_WORDS:
                break
            if j > i and text[words[j - 1].end() : words[j].start()].strip(" -"):
                break
            candidate = text[words[i].start() : words[j].end()]
            last = token
            j += 1
            if last in ("a", "an", "and", "point", "minus", "negative"):
                continue
            try:
                best_value = words_to_number(candidate)
            except SkillError:
                continue
            best_end = j
        if best_end > i:
            out.append(text[pos : words[i].start()])
            out.append(format_number(best_value, max_decimals=12))
            pos = words[best_end - 1].end()
            i = best_end
        else:
            i += 1
    out.append(text[pos:])
    return "".join(out)
