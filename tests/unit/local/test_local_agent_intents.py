"""The offline agent: natural requests in, natural sentences (or tool calls) out."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from app.local.agent import Agent, CallTool, Speak
from app.local.agent.intents import parse_intent

NOW = datetime(2026, 3, 4, 15, 15)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def spoken(text: str) -> dict:
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": text}],
    }


@pytest.fixture
def agent() -> Agent:
    return Agent(now=lambda: NOW, mono=Clock())


def ask(agent: Agent, text: str) -> str:
    decision = agent.decide([user(text)], [])
    assert isinstance(decision, Speak)
    return decision.text


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What time is it?", "It's 3:15 PM."),
        ("whats the date today", "Today is Wednesday, March 4, 2026."),
        ("What is twelve times seven?", "That's 84."),
        ("What is 12 times seven?", "That's 84."),
        ("what's 100 minus 58", "That's 42."),
        ("what is 15% of 80", "That's 12."),
        ("What is ten divided by zero?", "I can't divide by zero."),
        ("How many miles is 10 km?", "10 kilometers is 6.214 miles."),
        ("How many feet are in a mile?", "1 mile is 5280 feet."),
        ("convert 5 kilograms to pounds", "5 kilograms is 11.023 pounds."),
        ("Thanks!", "You're welcome."),
        ("Stop.", "Okay."),
    ],
)
def test_everyday_questions_get_natural_answers(agent: Agent, question: str, answer: str) -> None:
    assert ask(agent, question) == answer


def test_timers_set_query_and_cancel(agent: Agent) -> None:
    clock = agent.mono
    assert (
        ask(agent, "Set a timer for ten minutes.") == "Okay. Your timer for 10 minutes starts now."
    )
    assert (
        ask(agent, "set a pasta timer for 8 minutes")
        == "Okay. Your pasta timer for 8 minutes starts now."
    )
    clock.t += 60  # type: ignore[attr-defined]
    left = ask(agent, "how much time is left")
    assert "the pasta timer: 7 minutes left" in left and "9 minutes left" in left
    assert ask(agent, "cancel the pasta timer") == "Okay, I cancelled the pasta timer."
    assert ask(agent, "cancel the salad timer").startswith(("Which one", "Okay"))


def test_remember_recall_forget(agent: Agent) -> None:
    assert ask(agent, "Remember that my car is parked on level three.") == (
        "Got it. I'll remember that your car is parked on level 3."
    )
    assert ask(agent, "Where is my car?") == "You told me that your car is parked on level 3."
    assert ask(agent, "remember my car is parked on level 5").endswith("level 5.")
    assert ask(agent, "where is my car") == "You told me that your car is parked on level 5."
    assert ask(agent, "Forget about my car") == "Okay, I've forgotten that."
    assert ask(agent, "where is my car") == "You haven't asked me to remember anything yet."


def test_what_did_i_say_and_repeat_that(agent: Agent) -> None:
    first = ask(agent, "What is 3 plus 4?")
    assert ask(agent, "what did I just say") == 'You said: "What is 3 plus 4?".'
    assert ask(agent, "Repeat that.") == 'You said: "What is 3 plus 4?".'
    assert first == "That's 7."


def test_transcribed_audio_items_are_understood(agent: Agent) -> None:
    decision = agent.decide([spoken("What time is it?")], [])
    assert decision == Speak("It's 3:15 PM.", "time")


def test_small_talk_help_and_unknown(agent: Agent) -> None:
    assert "timers" in ask(agent, "what can you do")
    assert ask(agent, "hello").startswith("Good afternoon")
    assert ask(agent, "who are you") == "I'm VoxDesk, your offline voice assistant."
    assert ask(agent, "blorp the quux").startswith("Sorry, I can't help with that")
    assert ask(agent, "").startswith("Sorry, I didn't hear anything")


def test_declared_tools_are_called_like_a_cloud_model_would(agent: Agent) -> None:
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        {
            "type": "function",
            "name": "set_timer",
            "description": "Start a timer",
            "parameters": {
                "type": "object",
                "properties": {"minutes": {"type": "number"}, "label": {"type": "string"}},
            },
        },
        {
            "type": "function",
            "name": "get_current_time",
            "description": "Local time",
            "parameters": {"type": "object", "properties": {}},
        },
    ]
    assert agent.decide([user("what's the weather in Paris")], tools) == CallTool(
        "get_weather", json.dumps({"city": "paris"}), "unknown"
    )
    call = agent.decide([user("set a timer for 90 seconds")], tools)
    assert isinstance(call, CallTool) and json.loads(call.arguments) == {"minutes": 1.5}
    call = agent.decide([user("What time is it?")], tools)
    assert isinstance(call, CallTool) and call.name == "get_current_time"
    items = [
        user("What time is it?"),
        {"type": "function_call", "call_id": "c1", "name": "get_current_time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "10:30"},
    ]
    assert agent.decide(items, tools) == Speak("It's 10:30.", "tool_result")
    assert isinstance(agent.decide([user("what is 2 plus 2")], tools), Speak)


def test_intent_slots() -> None:
    assert parse_intent("set a pasta timer for 8 minutes").slots == {
        "duration": "8 minutes",
        "label": "pasta",
    }
    assert parse_intent("How many grams in 2 pounds").slots == {
        "to": "grams",
        "value": "2",
        "from": "pounds",
    }
    assert parse_intent("what is 10 degrees celsius in fahrenheit").name == "convert"
