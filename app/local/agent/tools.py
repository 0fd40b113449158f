"""Using the tools a session declares, the way a cloud model would.

When a request matches a declared function (by intent keywords or by the tool's own name), the
agent emits a ``function_call`` with arguments filled from the request; when the client sends the
``function_call_output``, :func:`speak_output` phrases the result.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.local.agent.intents import Intent
from app.local.agent.memory import keywords
from app.skills.errors import SkillError
from app.skills.timers import parse_duration

# intent -> words that mark a tool as doing that job (in its name or description)
_INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "time": ("time", "clock"),
    "date": ("date", "day", "today"),
    "timer_set": ("timer", "alarm", "countdown"),
    "timer_cancel": ("cancel_timer", "stop_timer", "delete_timer", "timer"),
    "timer_query": ("list_timer", "timers", "timer"),
    "arithmetic": ("calculat", "math", "arithmetic", "evaluat", "compute"),
    "convert": ("convert", "unit"),
    "remember": ("remember", "memory", "save_note", "note", "store"),
    "recall": ("recall", "memory", "lookup", "search_note", "note"),
    "forget": ("forget", "memory", "delete_note"),
}
_TOOL_VERBS = {
    "timer_set": ("set", "start", "create", "add"),
    "timer_cancel": ("cancel", "stop", "delete", "remove"),
    "timer_query": ("list", "get", "status", "query"),
    "remember": ("remember", "save", "store", "add", "set"),
    "recall": ("recall", "get", "search", "lookup", "find", "read"),
    "forget": ("forget", "delete", "remove", "clear"),
}


def _words(tool: dict[str, Any]) -> str:
    return f"{tool.get('name', '')} {tool.get('description', '')}".lower()


def choose_tool(intent: Intent, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The declared function tool that serves ``intent``, if any."""
    functions = [t for t in tools if t.get("type", "function") == "function" and t.get("name")]
    best: tuple[int, dict[str, Any]] | None = None
    for tool in functions:
        text = _words(tool)
        name = str(tool["name"]).lower()
        score = 0
        if any(w in name for w in _INTENT_WORDS.get(intent.name, ())):
            score += 3
        elif any(w in text for w in _INTENT_WORDS.get(intent.name, ())):
            score += 1
        if score and any(v in name for v in _TOOL_VERBS.get(intent.name, ())):
            score += 2
        # a tool named after words the user said ("get_weather" for "what's the weather")
        name_words = {w for w in re.split(r"[^a-z0-9]+", name) if len(w) > 3}
        if name_words & keywords(intent.text) - {"what", "tell", "please"}:
            score += 2
        if score and (best is None or score > best[0]):
            best = (score, tool)
    return best[1] if best else None


def build_arguments(intent: Intent, tool: dict[str, Any]) -> str:
    """JSON arguments for ``tool`` filled from the intent's slots (schema-guided)."""
    params = tool.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {} if isinstance(params, dict) else {}
    required = params.get("required") or [] if isinstance(params, dict) else []
    args: dict[str, Any] = {}
    slots = {k: v for k, v in intent.slots.items() if v}
    seconds: float | None = None
    if "duration" in slots:
        try:
            seconds = parse_duration(slots["duration"])
        except SkillError:
            seconds = None
    for name, schema in props.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        value = _value_for(name.lower(), kind, slots, seconds, intent)
        if value is None and name in required:
            value = intent.text if kind in (None, "string") else None
        if value is not None:
            args[name] = value
    return json.dumps(args)


def _value_for(
    name: str, kind: Any, slots: dict[str, str], seconds: float | None, intent: Intent
) -> Any:
    numeric = kind in ("number", "integer")

    def num(v: float) -> Any:
        return int(round(v)) if kind == "integer" else v

    if seconds is not None and ("second" in name or (name == "duration" and numeric)):
        return num(seconds)
    if seconds is not None and "minute" in name:
        return num(seconds / 60)
    if seconds is not None and "duration" in name:
        return slots["duration"]
    for key, aliases in (
        ("label", ("label", "name", "title")),
        ("expression", ("expression", "expr", "formula", "input")),
        ("from", ("from", "source")),
        ("to", ("to", "target")),
        ("fact", ("fact", "text", "note", "content", "memory", "value")),
        ("key", ("query", "key", "topic", "about")),
        ("what", ("query", "key", "topic", "what")),
    ):
        if key in slots and any(a in name for a in aliases):
            return slots[key]
    if "value" in slots and any(a in name for a in ("value", "amount", "quantity")):
        return float(slots["value"]) if numeric else slots["value"]
    location = re.search(r"\b(?:in|for|at) ([a-z][a-z ]+)$", intent.text)
    if location and any(a in name for a in ("location", "city", "place", "where")):
        return location.group(1)
    return None


def speak_output(name: str, output: str) -> str:
    """A spoken sentence from a tool's ``function_call_output``."""
    text = output.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = text
    if isinstance(data, dict):
        for key in ("error",):
            if data.get(key):
                return f"Sorry, that didn't work: {data[key]}."
        for key in ("text", "message", "result", "answer", "output", "time", "date", "status"):
            if key in data and data[key] not in (None, ""):
                data = data[key]
                break
    if isinstance(data, bool):
        return "Done." if data else "Sorry, that didn't work."
    if isinstance(data, dict):
        data = ", ".join(f"{str(k).replace('_', ' ')}: {v}" for k, v in data.items())
    elif isinstance(data, list):
        data = ", ".join(str(v) for v in data)
    said = str(data).strip()
    if not said:
        return "Done."
    if "time" in name.lower() and len(said) <= 12 and "timer" not in name.lower():
        return f"It's {said}."
    return said if said.endswith((".", "!", "?")) else said + "."
