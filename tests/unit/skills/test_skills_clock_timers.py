from datetime import datetime

import pytest

from app.skills import (
    SkillError,
    TimerBook,
    describe_date,
    describe_duration,
    describe_time,
    parse_duration,
)


@pytest.mark.parametrize(
    ("hour", "minute", "digits", "words"),
    [
        (0, 0, "It's 12:00 AM.", "It's midnight."),
        (12, 0, "It's 12:00 PM.", "It's noon."),
        (15, 15, "It's 3:15 PM.", "It's quarter past three in the afternoon."),
        (15, 5, "It's 3:05 PM.", "It's five minutes past three in the afternoon."),
        (9, 45, "It's 9:45 AM.", "It's quarter to ten in the morning."),
        (23, 59, "It's 11:59 PM.", "It's one minute to midnight."),
        (19, 0, "It's 7:00 PM.", "It's seven o'clock in the evening."),
        (10, 30, "It's 10:30 AM.", "It's half past ten in the morning."),
    ],
)
def test_describe_time(hour: int, minute: int, digits: str, words: str) -> None:
    now = datetime(2025, 3, 4, hour, minute)
    assert describe_time(now) == digits
    assert describe_time(now, words=True) == words


def test_describe_date() -> None:
    assert describe_date(datetime(2025, 3, 4)) == "Today is Tuesday, March 4, 2025."
    assert (
        describe_date(datetime(2025, 3, 22), words=True)
        == "Today is Saturday, the twenty-second of March, 2025."
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10 minutes", 600),
        ("1 hour and 5 minutes", 3900),
        ("an hour and a half", 5400),
        ("half an hour", 1800),
        ("ninety seconds", 90),
        ("1.5 hours", 5400),
        ("2h 30m", 9000),
        ("a minute", 60),
        ("for one minute and thirty seconds", 90),
        ("twenty-five minutes", 1500),
        ("2 days", 172800),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("five", "as a duration"),
        ("20 bananas", "as a duration"),
        ("10 minutes of pasta bake", "as a duration"),
        ("and", "as a duration"),
        ("0 seconds", "longer than zero"),
        ("8 days", "one week"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(SkillError, match=message):
        parse_duration(text)


def test_describe_duration() -> None:
    assert describe_duration(3900) == "1 hour and 5 minutes"
    assert describe_duration(42.4) == "42 seconds"
    assert describe_duration(93784) == "1 day, 2 hours, 3 minutes and 4 seconds"
    assert describe_duration(-5) == "0 seconds"


def test_timer_book_bookkeeping() -> None:
    book = TimerBook()
    pasta = book.add(600, now=100.0, label="pasta")
    tea = book.add(180, now=100.0)
    assert [t.timer_id for t in book.active()] == [tea.timer_id, pasta.timer_id]
    assert book.next_due() == 280.0
    assert book.pop_due(279.9) == []
    assert book.pop_due(280.0) == [tea]
    assert tea.announcement() == "Your 3 minutes timer is done."
    assert pasta.describe(now=400.0) == "the pasta timer: 5 minutes left"
    assert pasta.announcement() == "Your pasta timer for 10 minutes is done."
    assert book.cancel("the Pasta timer") == [pasta]
    assert book.active() == [] and book.next_due() is None


def test_timer_book_cancel_by_id_all_and_single() -> None:
    book = TimerBook()
    first = book.add(60, now=0.0)
    second = book.add(120, now=0.0, label="eggs")
    assert book.cancel(str(first.timer_id)) == [first]
    assert book.cancel("nothing") == []
    assert book.cancel("the timer") == [second]  # the only one left
    book.add(10, now=0.0)
    book.add(20, now=0.0)
    assert book.cancel("timer") == []  # ambiguous
    assert len(book.cancel("all")) == 2


def test_timer_book_rejects_bad_lengths() -> None:
    with pytest.raises(SkillError):
        TimerBook().add(0, now=0.0)
    with pytest.raises(SkillError):
        TimerBook().add(8 * 86400, now=0.0)
