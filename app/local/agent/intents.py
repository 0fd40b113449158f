"""Recognising what the user asked for: text in, an :class:`Intent` with slots out.

Recognition is rule based and works on transcripts as whisper writes them ("What is 12 times
seven?") as well as typed text. Number words are turned into digits first, so every rule sees
digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.skills.numbers import replace_number_words

_UNIT = r"[a-z°][a-z° ]{0,30}?"
_NUM = r"-?\d+(?:\.\d+)?"


@dataclass(frozen=True, slots=True)
class Intent:
    """One recognised request.

    Attributes:
        name: e.g. ``"time"``, ``"timer_set"``, ``"arithmetic"``, ``"unknown"``.
        slots: the values it carries (``duration``, ``expression``, ``fact``…), as strings.
        text: the normalised utterance.
    """

    name: str
    slots: dict[str, str] = field(default_factory=dict)
    text: str = ""


def normalize(text: str) -> str:
    """Lower-case, digits for number words, no trailing punctuation, single spaces."""
    lowered = text.lower().replace("’", "'").strip()
    lowered = re.sub(r"[\"“”]", "", lowered)
    lowered = re.sub(r"\b(what|where|how|who|that|it)s\b", r"\1's", lowered)
    lowered = replace_number_words(lowered)
    lowered = re.sub(r"(?<=\d),(?=\d{3}\b)", "", lowered)
    lowered = re.sub(r"[?!.,;:]+(\s|$)", r"\1", lowered)
    return " ".join(lowered.split())


_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "stop",
            r"^(?:please )?(?:stop|cancel|never ?mind|be quiet|quiet|shut up|enough|"
            r"that's enough|stop talking|hush)(?: please| it| now)?$",
        ),
        (
            "repeat",
            r"\b(?:repeat (?:that|it|yourself|the last thing)|say (?:that|it) again|"
            r"come again|pardon|what did you (?:just )?say)\b",
        ),
        (
            "what_did_i_say",
            r"\bwhat (?:did|was it) i (?:just )?(?:say|said|ask)|"
            r"what was my last (?:question|sentence|request)\b",
        ),
        (
            "timer_cancel",
            r"\b(?:cancel|stop|delete|remove|clear) (?:the |my |all |all the |all my )?"
            r"(?P<label>[a-z0-9 ]*?) ?timers?\b",
        ),
        (
            "timer_query",
            r"\b(?:how (?:much time|long) (?:is )?(?:left|remaining)|"
            r"what timers|any timers|timers? (?:status|running)|time left)\b",
        ),
        (
            "timer_set",
            r"\b(?:(?:set|start|create|make|put on) (?:a |an |the |my )?"
            r"(?:(?P<label1>[a-z]+) )?(?:timer|alarm|countdown)|timer|remind me)"
            r"(?: (?:for|in|of))? (?P<duration>.+?)(?: (?:for|called|named) "
            r"(?:the )?(?P<label2>[a-z ]+?))?$",
        ),
        (
            "time",
            r"\b(?:what(?:'s| is)? (?:the )?time|time is it|tell me the time|"
            r"current time|what time)\b",
        ),
        (
            "date",
            r"\b(?:what(?:'s| is)? (?:the |today's )?date|what day (?:is it|is today)|"
            r"today's date|which day is it|what is today)\b",
        ),
        (
            "convert",
            rf"\b(?:convert )?(?P<value>{_NUM}) (?P<from>{_UNIT}) (?:to|into|in|as) "
            rf"(?P<to>{_UNIT})$",
        ),
        (
            "convert_howmany",
            rf"\bhow (?:many|much) (?P<to>{_UNIT}) "
            r"(?:are there in|is there in|are in|is in|is|are|in|make"
            r"|makes?|equals?)"
            rf" (?:a |an )?(?P<value>{_NUM})? ?(?P<from>{_UNIT})$",
        ),
        ("forget", r"^(?:please )?forget (?:about |that )?(?P<what>.+)$"),
        (
            "remember",
            r"^(?:please )?(?:remember|note|make a note|keep in mind)(?: that)? "
            r"(?P<fact>.+)$",
        ),
        (
            "recall",
            r"\b(?:what(?:'s| is| are)? my (?P<key1>.+)|where(?:'s| is| are)? my "
            r"(?P<key2>.+)|do you remember (?P<key3>.+)|what do you (?:know|remember)"
            r"(?: about (?P<key4>.+))?)$",
        ),
        ("help", r"\b(?:help|what can you do|what do you do|how do(?:es)? (?:this|you) work)\b"),
        (
            "greeting",
            r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|howdy|hiya)"
            r"(?: there| voxdesk| assistant)?$",
        ),
        ("thanks", r"\b(?:thank you|thanks|cheers|much appreciated)\b"),
        ("how_are_you", r"\bhow are you|how's it going|how are things\b"),
        ("who_are_you", r"\b(?:who are you|what(?:'s| is) your name|what are you)\b"),
        ("joke", r"\b(?:tell me a joke|say something funny|make me laugh)\b"),
        ("goodbye", r"^(?:bye|goodbye|see you|good night)(?: later| soon)?$"),
    )
)

_OPERATOR = re.compile(
    r"\d\s*(?:[-+*/x×÷^%]|plus|minus|times|multiplied by|divided by|over|to the power of|mod"
    r"|modulo)\s*-?\d|"
    r"\b(?:square root|cube root|squared|cubed|percent of)\b|\d\s*% of"
)


def parse_intent(text: str) -> Intent:
    """Recognise the request in ``text`` (``"unknown"`` when nothing matches)."""
    norm = normalize(text)
    if not norm:
        return Intent("empty", {}, norm)
    for name, rule in _RULES:
        match = rule.search(norm)
        if match is None:
            continue
        slots = {k: v.strip() for k, v in match.groupdict().items() if v}
        if name == "timer_set":
            label = slots.pop("label1", "") or slots.pop("label2", "")
            if label in ("new", "quick", "kitchen") or not label:
                label = ""
            slots = {"duration": slots["duration"], "label": label}
        elif name in ("convert", "convert_howmany"):
            slots.setdefault("value", "1")
            name = "convert"
        elif name == "recall":
            key = next((slots[k] for k in ("key1", "key2", "key3", "key4") if k in slots), "")
            slots = {"key": key}
        elif name == "timer_cancel":
            slots = {"label": slots.get("label", "")}
        return Intent(name, slots, norm)
    if _OPERATOR.search(norm):
        expression = re.sub(r"(\d)\s*% of\b", r"\1 percent of", norm)
        expression = re.sub(
            r"^(?:so |and |ok |okay )?(?:what(?:'s| is)|how much is|calculate|compute)"
            r"(?: the)? ",
            "",
            expression,
        )
        return Intent("arithmetic", {"expression": expression}, norm)
    return Intent("unknown", {}, norm)
