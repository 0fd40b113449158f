"""What the agent remembers within one session: facts, recent utterances, its last reply, timers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.skills.timers import TimerBook

_STOPWORDS = frozenset(
    "a an the my your is are was were of on in at to for and that this it i you me be".split()
)
_PERSON_SWAP = (
    (r"\bi am\b", "you are"),
    (r"\bi'm\b", "you're"),
    (r"\bmy\b", "your"),
    (r"\bmine\b", "yours"),
    (r"\bi\b", "you"),
    (r"\bme\b", "you"),
)


def second_person(text: str) -> str:
    """Rephrase a first-person fact for speaking back ("my car is…" → "your car is…")."""
    out = text
    for pattern, repl in _PERSON_SWAP:
        out = re.sub(pattern, repl, out)
    return out


def keywords(text: str) -> set[str]:
    """Content words of ``text`` (lower case, no stop words, plural 's' dropped)."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {w.removesuffix("s") if len(w) > 3 else w for w in words if w not in _STOPWORDS}


@dataclass
class AgentMemory:
    """Per-session agent state.

    Attributes:
        facts: remembered facts, as the user phrased them (first person).
        said: the user's utterances, oldest first (the last 20).
        last_reply: what the assistant last said.
        timers: running timers.
    """

    facts: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    last_reply: str = ""
    timers: TimerBook = field(default_factory=TimerBook)

    def heard(self, utterance: str) -> None:
        """Record a user utterance."""
        if utterance.strip():
            self.said = [*self.said[-19:], utterance.strip()]

    def remember(self, fact: str) -> None:
        """Store a fact, replacing an older one about the same thing."""
        new_keys = keywords(fact)
        subject = _subject(fact)
        self.facts = [
            f
            for f in self.facts
            if not (subject and _subject(f) == subject) and keywords(f) != new_keys
        ]
        self.facts.append(fact)

    def recall(self, query: str) -> list[str]:
        """Facts sharing a content word with ``query`` (all facts for an empty query)."""
        wanted = keywords(query)
        if not wanted:
            return list(self.facts)
        return [f for f in self.facts if keywords(f) & wanted]

    def forget(self, query: str) -> int:
        """Drop facts matching ``query`` ("everything" drops all); returns how many went."""
        if re.search(r"\b(everything|all of it|all|it all)\b", query):
            count = len(self.facts)
            self.facts = []
            return count
        doomed = set(self.recall(query)) if keywords(query) else set()
        self.facts = [f for f in self.facts if f not in doomed]
        return len(doomed)


def _subject(fact: str) -> str:
    match = re.match(r"^(?:my|the) ([a-z' ]+?) (?:is|are|was)\b", fact)
    return match.group(1) if match else ""
