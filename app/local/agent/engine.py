"""The offline agent: from the conversation so far to what the assistant does next.

``Agent.decide`` looks at the last relevant conversation item: a user message is understood
(intents) and either answered or, when the session declares a matching tool, turned into a
``function_call``; a ``function_call_output`` is spoken.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.local.agent.intents import Intent, parse_intent
from app.local.agent.memory import AgentMemory
from app.local.agent.responses import answer
from app.local.agent.tools import build_arguments, choose_tool, speak_output


@dataclass(frozen=True, slots=True)
class Speak:
    """Say ``text``. ``intent`` is what was understood (``"stop"`` means: say little)."""

    text: str
    intent: str = ""


@dataclass(frozen=True, slots=True)
class CallTool:
    """Call the client's tool ``name`` with JSON ``arguments``."""

    name: str
    arguments: str
    intent: str = ""


@dataclass
class Agent:
    """One session's agent.

    Attributes:
        memory: the session's facts, utterances and timers.
        now: wall clock (injected for tests).
        mono: monotonic clock for timers (injected for tests).
    """

    memory: AgentMemory = field(default_factory=AgentMemory)
    now: Callable[[], datetime] = datetime.now
    mono: Callable[[], float] = time.monotonic

    def understand(self, text: str) -> Intent:
        """Recognise ``text`` and record it as said."""
        self.memory.heard(text)
        return parse_intent(text)

    def decide(self, items: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Speak | CallTool:
        """What to do given the conversation ``items`` (oldest first) and the declared ``tools``."""
        last = _last_relevant(items)
        if last is None:
            return self._said(Speak("Hello! How can I help?", "greeting"))
        if last.get("type") == "function_call_output":
            call = _find_call(items, str(last.get("call_id", "")))
            name = str(call.get("name", "")) if call else ""
            return self._said(Speak(speak_output(name, str(last.get("output", ""))), "tool_result"))
        text = user_text(last)
        intent = self.understand(text)
        tool = choose_tool(intent, tools) if intent.name != "empty" else None
        if tool is not None:
            return CallTool(str(tool["name"]), build_arguments(intent, tool), intent.name)
        return self._said(Speak(self.reply_to(intent), intent.name))

    def reply_to(self, intent: Intent) -> str:
        """The intent engine's answer (updates memory and timers)."""
        return answer(intent, self.memory, self.now(), self.mono)

    def _said(self, speak: Speak) -> Speak:
        if speak.intent not in ("repeat", "stop"):
            self.memory.last_reply = speak.text
        return speak


def user_text(item: dict[str, Any]) -> str:
    """The words of a user message item (typed text or audio transcript)."""
    parts = []
    for part in item.get("content") or []:
        if not isinstance(part, dict):
            continue
        text = part.get("text") if part.get("type") == "input_text" else part.get("transcript")
        if isinstance(text, str):
            parts.append(text)
    return " ".join(parts).strip()


def _last_relevant(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    for entry in reversed(items):
        found: dict[str, Any] = entry
        if found.get("type") == "function_call_output":
            return found
        if found.get("type") == "message" and found.get("role") == "user":
            return found
    return None


def _find_call(items: list[dict[str, Any]], call_id: str) -> dict[str, Any] | None:
    for entry in reversed(items):
        found: dict[str, Any] = entry
        if found.get("type") == "function_call" and found.get("call_id") == call_id:
            return found
    return None
