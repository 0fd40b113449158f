"""Square and cube roots, spoken or written, through the arithmetic skill and the agent."""

from __future__ import annotations

import pytest

from app.local.agent import Agent, Speak
from app.skills.arithmetic import evaluate, normalize_expression
from app.skills.errors import SkillError


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("square root of 16", 4.0),
        ("what is the square root of sixteen", 4.0),
        ("the square root of 2", 2**0.5),
        ("cube root of 27", 3.0),
        ("square root of 16 plus 2", 6.0),
        ("two times the square root of nine", 6.0),
        ("15 % of 80", 12.0),
    ],
)
def test_roots_evaluate(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


def test_root_of_a_negative_number_is_refused_in_words() -> None:
    with pytest.raises(SkillError, match="not a real number"):
        evaluate("square root of minus 4")


def test_root_binds_only_its_number() -> None:
    assert normalize_expression("square root of 16 plus 2") == "((16) ** 0.5) + 2"


@pytest.mark.parametrize(
    ("said", "answer"),
    [("What's the square root of 16?", "That's 4."), ("What's 15 % of 80?", "That's 12.")],
)
def test_agent_answers_roots_and_percentages(said: str, answer: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": said}]}
    decision = Agent().decide([item], [])
    assert isinstance(decision, Speak) and decision.text == answer
