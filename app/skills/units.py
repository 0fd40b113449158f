"""Unit conversion for length, mass, volume, temperature, speed, time and data sizes.

Units are found by symbol (case-sensitive first, so ``Mb`` is a megabit and ``MB`` a megabyte),
then by name, alias or plural, case-insensitively ("kilometres", "km", "degrees Fahrenheit").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.skills.errors import SkillError
from app.skills.numbers import format_number


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit: how to say it and how it maps to its dimension's base unit.

    Attributes:
        singular: spoken name for one (``"kilometer"``).
        plural: spoken name for several (``"kilometers"``).
        dimension: ``"length"``, ``"mass"``, ``"volume"``, ``"temperature"``, ``"speed"``,
            ``"time"`` or ``"data"``.
        factor: base units per one of this unit (base: meter, kilogram, liter, kelvin, meter per
            second, second, byte).
        offset: added after scaling (temperature only): ``base = value * factor + offset``.
    """

    singular: str
    plural: str
    dimension: str
    factor: float
    offset: float = 0.0

    def name_for(self, value: float) -> str:
        """The singular name for exactly ±1, the plural otherwise."""
        return self.singular if abs(value) == 1 else self.plural


@dataclass(frozen=True, slots=True)
class ConversionResult:
    """The outcome of :func:`convert`.

    Attributes:
        value: the input value.
        from_unit: the source unit.
        to_unit: the target unit.
        result: the converted value (unrounded).
    """

    value: float
    from_unit: Unit
    to_unit: Unit
    result: float

    @property
    def text(self) -> str:
        """A sentence such as ``"10 kilometers is 6.214 miles."``."""
        shown = format_number(self.result)
        return (
            f"{format_number(self.value)} {self.from_unit.name_for(self.value)} is "
            f"{shown} {self.to_unit.name_for(float(shown))}."
        )


# (singular, plural, dimension, factor, offset, aliases, case-sensitive symbols)
_TABLE: tuple[tuple[str, str, str, float, float, tuple[str, ...], tuple[str, ...]], ...] = (
    ("millimeter", "millimeters", "length", 0.001, 0, ("millimetre",), ("mm",)),
    ("centimeter", "centimeters", "length", 0.01, 0, ("centimetre",), ("cm",)),
    ("meter", "meters", "length", 1.0, 0, ("metre",), ("m",)),
    ("kilometer", "kilometers", "length", 1000.0, 0, ("kilometre", "klick"), ("km",)),
    ("inch", "inches", "length", 0.0254, 0, (), ("in", '"')),
    ("foot", "feet", "length", 0.3048, 0, ("ft",), ("ft", "'")),
    ("yard", "yards", "length", 0.9144, 0, ("yd",), ("yd",)),
    ("mile", "miles", "length", 1609.344, 0, ("mi",), ("mi",)),
    ("nautical mile", "nautical miles", "length", 1852.0, 0, (), ("nmi",)),
    ("milligram", "milligrams", "mass", 1e-6, 0, ("milligramme",), ("mg",)),
    ("gram", "grams", "mass", 0.001, 0, ("gramme",), ("g",)),
    ("kilogram", "kilograms", "mass", 1.0, 0, ("kilo", "kilogramme"), ("kg",)),
    ("tonne", "tonnes", "mass", 1000.0, 0, ("metric ton",), ("t",)),
    ("ounce", "ounces", "mass", 0.028349523125, 0, (), ("oz",)),
    ("pound", "pounds", "mass", 0.45359237, 0, ("lb",), ("lb", "lbs")),
    ("stone", "stone", "mass", 6.35029318, 0, ("stones",), ("st",)),
    ("milliliter", "milliliters", "volume", 0.001, 0, ("millilitre",), ("ml", "mL")),
    ("centiliter", "centiliters", "volume", 0.01, 0, ("centilitre",), ("cl", "cL")),
    ("liter", "liters", "volume", 1.0, 0, ("litre",), ("l", "L")),
    ("cubic meter", "cubic meters", "volume", 1000.0, 0, ("cubic metre",), ("m3", "m³")),
    ("teaspoon", "teaspoons", "volume", 0.00492892159375, 0, (), ("tsp",)),
    ("tablespoon", "tablespoons", "volume", 0.01478676478125, 0, (), ("tbsp",)),
    ("fluid ounce", "fluid ounces", "volume", 0.0295735295625, 0, (), ("fl oz",)),
    ("cup", "cups", "volume", 0.2365882365, 0, (), ()),
    ("pint", "pints", "volume", 0.473176473, 0, (), ("pt",)),
    ("quart", "quarts", "volume", 0.946352946, 0, (), ("qt",)),
    ("gallon", "gallons", "volume", 3.785411784, 0, (), ("gal",)),
    (
        "degree Celsius",
        "degrees Celsius",
        "temperature",
        1.0,
        273.15,
        ("celsius", "centigrade"),
        ("C", "°C"),
    ),
    (
        "degree Fahrenheit",
        "degrees Fahrenheit",
        "temperature",
        5 / 9,
        273.15 - 32 * 5 / 9,
        ("fahrenheit",),
        ("F", "°F"),
    ),
    ("kelvin", "kelvins", "temperature", 1.0, 0.0, ("degree kelvin",), ("K",)),
    ("meter per second", "meters per second", "speed", 1.0, 0, ("metre per second",), ("m/s",)),
    (
        "kilometer per hour",
        "kilometers per hour",
        "speed",
        1 / 3.6,
        0,
        ("kilometre per hour", "kph", "kmh"),
        ("km/h",),
    ),
    ("mile per hour", "miles per hour", "speed", 0.44704, 0, ("mph",), ("mph",)),
    ("knot", "knots", "speed", 1852 / 3600, 0, ("kn", "kt"), ("kn",)),
    ("foot per second", "feet per second", "speed", 0.3048, 0, ("fps",), ("ft/s",)),
    ("millisecond", "milliseconds", "time", 0.001, 0, ("msec",), ("ms",)),
    ("second", "seconds", "time", 1.0, 0, ("sec", "secs"), ("s",)),
    ("minute", "minutes", "time", 60.0, 0, ("min", "mins"), ("min",)),
    ("hour", "hours", "time", 3600.0, 0, ("hr", "hrs"), ("h",)),
    ("day", "days", "time", 86400.0, 0, (), ("d",)),
    ("week", "weeks", "time", 604800.0, 0, ("wk",), ("wk",)),
    ("year", "years", "time", 31557600.0, 0, ("yr", "yrs"), ("yr",)),
    ("bit", "bits", "data", 0.125, 0, (), ("b",)),
    ("byte", "bytes", "data", 1.0, 0, (), ("B",)),
    ("kilobit", "kilobits", "data", 125.0, 0, (), ("kb", "kbit")),
    ("kilobyte", "kilobytes", "data", 1e3, 0, (), ("kB", "KB")),
    ("kibibyte", "kibibytes", "data", 1024.0, 0, (), ("KiB",)),
    ("megabit", "megabits", "data", 1.25e5, 0, (), ("Mb", "Mbit")),
    ("megabyte", "megabytes", "data", 1e6, 0, (), ("MB",)),
    ("mebibyte", "mebibytes", "data", 1024.0**2, 0, (), ("MiB",)),
    ("gigabit", "gigabits", "data", 1.25e8, 0, (), ("Gb", "Gbit")),
    ("gigabyte", "gigabytes", "data", 1e9, 0, ("gig", "gigs"), ("GB",)),
    ("gibibyte", "gibibytes", "data", 1024.0**3, 0, (), ("GiB",)),
    ("terabyte", "terabytes", "data", 1e12, 0, (), ("TB",)),
    ("tebibyte", "tebibytes", "data", 1024.0**4, 0, (), ("TiB",)),
)

UNITS: tuple[Unit, ...] = tuple(Unit(s, p, d, f, o) for s, p, d, f, o, _a, _y in _TABLE)
"""Every known unit."""

_BY_SYMBOL: dict[str, Unit] = {}
_BY_NAME: dict[str, Unit] = {}
for _unit, (_s, _p, _d, _f, _o, _aliases, _symbols) in zip(UNITS, _TABLE, strict=True):
    for _symbol in _symbols:
        _BY_SYMBOL.setdefault(_symbol, _unit)
    for _name in (_s, _p, *_aliases, *_symbols):
        _BY_NAME.setdefault(_name.lower(), _unit)
# Lower-case symbols that people type for bytes mean bytes, not bits.
_BY_NAME.update({"kb": _BY_SYMBOL["kB"], "mb": _BY_SYMBOL["MB"], "gb": _BY_SYMBOL["GB"]})
_BY_NAME["tb"] = _BY_SYMBOL["TB"]

_ABSOLUTE_ZERO_K = 0.0


def find_unit(name: str) -> Unit:
    """Look a unit up by symbol, name, alias or plural.

    Args:
        name: e.g. ``"km"``, ``"Kilometres"``, ``"degrees fahrenheit"``, ``"MiB"``, ``"mph"``.

    Returns:
        The unit.

    Raises:
        SkillError: if the unit is unknown.
    """
    raw = " ".join(name.strip().split())
    if raw in _BY_SYMBOL:
        return _BY_SYMBOL[raw]
    key = raw.lower().replace("metres", "meters").replace("litres", "liters")
    key = re.sub(r"^degrees? ", "degree ", key) if key not in _BY_NAME else key
    candidates = [key, key.removeprefix("degree ")]
    for candidate in candidates:
        for form in (candidate, candidate.removesuffix("es"), candidate.removesuffix("s")):
            if form in _BY_NAME:
                return _BY_NAME[form]
    raise SkillError(f"I don't know the unit '{name.strip()}'.")


def convert(value: float, from_unit: str, to_unit: str) -> ConversionResult:
    """Convert ``value`` from one unit to another of the same dimension.

    Args:
        value: the amount.
        from_unit: source unit (any form :func:`find_unit` accepts).
        to_unit: target unit.

    Returns:
        The result, with a ready sentence in ``.text``.

    Raises:
        SkillError: unknown unit, different dimensions, or a temperature below absolute zero.
    """
    source = find_unit(from_unit)
    target = find_unit(to_unit)
    if source.dimension != target.dimension:
        raise SkillError(
            f"I can't convert {source.plural} ({source.dimension}) "
            f"to {target.plural} ({target.dimension})."
        )
    base = value * source.factor + source.offset
    if source.dimension == "temperature" and base < _ABSOLUTE_ZERO_K - 1e-9:
        raise SkillError("That temperature is below absolute zero.")
    result = (base - target.offset) / target.factor
    return ConversionResult(value=value, from_unit=source, to_unit=target, result=result)
