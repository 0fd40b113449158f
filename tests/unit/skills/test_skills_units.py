import pytest

from app.skills import SkillError, convert, find_unit


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (10, "km", "miles", 6.21371),
        (1, "mile", "kilometres", 1.609344),
        (1, "foot", "inches", 12),
        (3, "Feet", "meter", 0.9144),
        (1, "kilo", "pounds", 2.20462),
        (1, "stone", "lbs", 14),
        (16, "oz", "lb", 1),
        (2, "cups", "ml", 473.176),
        (1, "gallon", "liters", 3.78541),
        (100, "C", "F", 212),
        (32, "degrees fahrenheit", "celsius", 0),
        (0, "kelvin", "°C", -273.15),
        (60, "mph", "km/h", 96.5606),
        (10, "meters per second", "kilometers per hour", 36),
        (1, "knot", "km/h", 1.852),
        (1, "hour", "minutes", 60),
        (1, "week", "days", 7),
        (1, "GiB", "MB", 1073.741824),
        (100, "Mb", "MB", 12.5),
        (1, "gigabyte", "megabytes", 1000),
        (8, "bits", "bytes", 1),
    ],
)
def test_converts(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target).result == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_sentence_uses_singular_and_plural() -> None:
    assert convert(1, "foot", "inches").text == "1 foot is 12 inches."
    assert convert(10, "km", "mi").text == "10 kilometers is 6.214 miles."
    assert convert(12, "inches", "feet").text == "12 inches is 1 foot."


def test_symbols_are_case_sensitive_before_names() -> None:
    assert find_unit("Mb").singular == "megabit"
    assert find_unit("MB").singular == "megabyte"
    assert find_unit("mb").singular == "megabyte"
    assert find_unit("m").singular == "meter"


@pytest.mark.parametrize("name", ["kilometres", "Kilometers", "km", "klicks"])
def test_aliases_and_plurals(name: str) -> None:
    assert find_unit(name).singular == "kilometer"


def test_unknown_unit() -> None:
    with pytest.raises(SkillError, match="don't know the unit 'florps'"):
        convert(1, "florps", "m")


def test_incompatible_dimensions() -> None:
    with pytest.raises(SkillError, match=r"kilograms \(mass\) to meters \(length\)"):
        convert(1, "kg", "m")


def test_below_absolute_zero() -> None:
    with pytest.raises(SkillError, match="absolute zero"):
        convert(-300, "celsius", "kelvin")
