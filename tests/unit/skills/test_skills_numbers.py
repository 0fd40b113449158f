import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.skills import (
    SkillError,
    format_number,
    number_to_words,
    ordinal_words,
    replace_number_words,
    words_to_number,
)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (21, "twenty-one"),
        (105, "one hundred and five"),
        (1005, "one thousand and five"),
        (123456, "one hundred and twenty-three thousand four hundred and fifty-six"),
        (1_000_000, "one million"),
        (-3.14, "minus three point one four"),
        (2.5, "two point five"),
        (7.0, "seven"),
    ],
)
def test_number_to_words(value: float, words: str) -> None:
    assert number_to_words(value) == words


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("twelve", 12),
        ("Twenty five", 25),
        ("twenty-five", 25),
        ("a hundred", 100),
        ("nineteen hundred", 1900),
        ("two thousand and five", 2005),
        ("one million two hundred thousand", 1_200_000),
        ("minus three point one four", -3.14),
        ("12.5", 12.5),
        ("1,000", 1000),
    ],
)
def test_words_to_number(words: str, value: float) -> None:
    assert words_to_number(words) == pytest.approx(value)


@pytest.mark.parametrize(
    "text", ["", "oh", "banana", "five twenty", "one one", "thousand million", "three point", "and"]
)
def test_words_to_number_rejects_non_numbers(text: str) -> None:
    with pytest.raises(SkillError):
        words_to_number(text)


@given(st.integers(min_value=0, max_value=10**12))
def test_words_round_trip(n: int) -> None:
    assert words_to_number(number_to_words(n)) == n


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (12, "twelfth"),
        (20, "twentieth"),
        (22, "twenty-second"),
        (101, "one hundred and first"),
        (1000, "one thousandth"),
    ],
)
def test_ordinal_words(n: int, words: str) -> None:
    assert ordinal_words(n) == words


def test_ordinal_rejects_zero() -> None:
    with pytest.raises(SkillError):
        ordinal_words(0)


def test_replace_number_words_in_sentences() -> None:
    assert replace_number_words("what is twelve times seven") == "what is 12 times 7"
    assert replace_number_words("Add one and two") == "Add 1 and 2"
    assert replace_number_words("I have a cat") == "I have a cat"
    assert replace_number_words("three point five Miles") == "3.5 Miles"
    assert replace_number_words("oh no, one point oh five") == "oh no, 1.05"


@pytest.mark.parametrize(
    ("value", "text"), [(84.0, "84"), (6.213712, "6.214"), (0.000123, "0.000123"), (-0.0, "0")]
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_number_to_words_refuses_huge_and_infinite() -> None:
    with pytest.raises(SkillError):
        number_to_words(1e16)
    with pytest.raises(SkillError):
        number_to_words(float("inf"))
