"""Context policy: keep the last N turns on the server, delete older items, replay as text.

A *turn* starts with a user message and holds every item after it (assistant messages, function
calls and their outputs) until the next user message. Items before the first user message form a
turn of their own.

How the driver uses it:

- on ``conversation.item.added``/``.done``: :meth:`ContextPolicy.on_item_added`, later
  :meth:`ContextPolicy.on_item_text` when the transcript is known (for a truncated assistant item:
  only the heard text);
- after each new user item: send ``conversation.item.delete`` for every id of
  :meth:`ContextPolicy.items_to_delete` (each id is handed out once);
- on ``conversation.item.deleted``: :meth:`ContextPolicy.on_item_deleted`;
- on reconnect: ``payloads = policy.replay_items()``, then :meth:`ContextPolicy.reset`, then
  send the payloads; the server's ``conversation.item.added`` events refill the policy with the
  new ids. Pinned facts travel in the instructions (``Memory.instructions_block()``).

Thread: the session loop thread only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("app.session.context")

_REPLAYED_ROLES = {"user": "input_text", "assistant": "output_text"}


@dataclass
class _Item:
    item_id: str
    role: str
    text: str


@dataclass
class _Turn:
    items: list[_Item] = field(default_factory=list)


class ContextPolicy:
    """Tracks the server conversation and decides what to drop and what to replay.

    Args:
        keep_turns: how many of the most recent turns stay on the server (at least 1).
    """

    def __init__(self, keep_turns: int) -> None:
        if keep_turns < 1:
            raise ValueError("keep_turns must be at least 1")
        self.keep_turns = keep_turns
        self._turns: list[_Turn] = []
        self._items: dict[str, _Item] = {}
        self._handed_out: set[str] = set()

    def on_item_added(self, item_id: str, role: str, text: str = "") -> None:
        """Record a conversation item (a ``user`` role starts a new turn).

        Args:
            item_id: the server's item id (a repeated id only updates the text).
            role: ``"user"``, ``"assistant"``, ``"system"``, or ``"tool"`` for function calls and
                their outputs.
            text: its text so far (may be empty and filled in later).
        """
        if item_id in self._items:
            if text:
                self._items[item_id].text = text
            return
        item = _Item(item_id, role, text)
        if role == "user" or not self._turns:
            self._turns.append(_Turn())
        self._turns[-1].items.append(item)
        self._items[item_id] = item

    def on_item_text(self, item_id: str, text: str) -> None:
        """Set the final text of an item (a completed or truncated transcript)."""
        item = self._items.get(item_id)
        if item is None:
            log.debug("text for unknown item %s ignored", item_id)
            return
        item.text = text

    def on_item_deleted(self, item_id: str) -> None:
        """The server confirmed a deletion (or the item is gone for another reason)."""
        item = self._items.pop(item_id, None)
        self._handed_out.discard(item_id)
        if item is None:
            return
        for turn in self._turns:
            if item in turn.items:
                turn.items.remove(item)
        self._turns = [t for t in self._turns if t.items]

    def items_to_delete(self) -> list[str]:
        """Ids in turns older than the last ``keep_turns``; each returned once, oldest first."""
        old_turns = self._turns[: max(0, len(self._turns) - self.keep_turns)]
        fresh = [
            item.item_id
            for turn in old_turns
            for item in turn.items
            if item.item_id not in self._handed_out
        ]
        self._handed_out.update(fresh)
        return fresh

    def replay_items(self) -> list[dict[str, Any]]:
        """``conversation.item.create`` payloads restoring the kept turns as text.

        User items become ``input_text``, assistant items ``output_text`` (assistant audio cannot
        be recreated). Items without text, tool items, system items and items already handed out
        for deletion are skipped.
        """
        payloads: list[dict[str, Any]] = []
        for turn in self._turns[-self.keep_turns :]:
            for item in turn.items:
                part_type = _REPLAYED_ROLES.get(item.role)
                if part_type is None or not item.text.strip():
                    continue
                if item.item_id in self._handed_out:
                    continue
                payloads.append(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "message",
                            "role": item.role,
                            "content": [{"type": part_type, "text": item.text}],
                        },
                    }
                )
        return payloads

    def reset(self) -> None:
        """Forget everything (a new server conversation starts empty)."""
        self._turns.clear()
        self._items.clear()
        self._handed_out.clear()

    def turn_count(self) -> int:
        """How many turns are tracked (including ones waiting for deletion)."""
        return len(self._turns)

    def item_ids(self) -> list[str]:
        """Every tracked item id, in conversation order."""
        return [item.item_id for turn in self._turns for item in turn.items]
