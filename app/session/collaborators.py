"""What the session driver needs from its collaborators, as structural protocols.

The runtime passes the real parts (``ToolRunner``, ``Transcript``, ``ContextPolicy``, ``Memory``,
``LatencyMeter``); tests pass small fakes. Only the members listed here are called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from app.events import ToolStatus


class ToolRunnerLike(Protocol):
    """The part of ``app.session.tools.ToolRunner`` the driver uses."""

    def start(self, call_id: str, name: str, arguments_json: str) -> None:
        """Start a completed call; the result comes back through ``on_done``."""

    def cancel_interruptible(self) -> list[str]:
        """Cancel interruptible calls (their cancelled results are reported at once)."""

    def mark_stale(self, call_ids: list[str]) -> None:
        """Flag calls whose results must never be spoken."""

    def running(self) -> list[str]:
        """Ids of calls still running."""


class ToolResultLike(Protocol):
    """The fields of ``app.session.tools.ToolResult`` the driver reads."""

    @property
    def call_id(self) -> str:
        """The provider's call id."""

    @property
    def output(self) -> str:
        """Text for ``function_call_output``."""

    @property
    def status(self) -> ToolStatus:
        """How the call ended."""

    @property
    def stale(self) -> bool:
        """Whether the result must never be spoken."""


ToolsFactory = Callable[
    [Callable[[ToolResultLike], None]], tuple[ToolRunnerLike, Sequence[Mapping[str, Any]]]
]
"""Builds the runner with the driver's ``on_done`` and returns it with the tool schemas."""


class TranscriptLike(Protocol):
    """``app.session.transcripts.Transcript`` as the driver uses it."""

    def user_delta(self, item_id: str, delta: str) -> None:
        """A piece of the user's transcript."""

    def user_done(self, item_id: str, text: str) -> None:
        """The user's full transcript."""

    def assistant_delta(self, item_id: str, delta: str) -> None:
        """A piece of the assistant's transcript."""

    def assistant_done(self, item_id: str, text: str) -> None:
        """The assistant's full transcript."""

    def assistant_truncated(self, item_id: str, heard_ms: float) -> None:
        """The assistant item was cut after ``heard_ms``."""


class ContextLike(Protocol):
    """``app.session.context.ContextPolicy`` as the driver uses it."""

    def on_item_added(self, item_id: str, role: str, text: str) -> None:
        """A completed conversation item."""

    def on_item_text(self, item_id: str, text: str) -> None:
        """Set an item's final text (a user transcript, or the heard part of a cut answer)."""

    def on_item_deleted(self, item_id: str) -> None:
        """The server confirmed a deletion."""

    def items_to_delete(self) -> list[str]:
        """Server items to delete now (each id handed out once)."""

    def replay_items(self) -> list[dict[str, Any]]:
        """GA ``conversation.item.create`` payloads restoring the kept turns as text."""

    def reset(self) -> None:
        """Forget the old server conversation (a new one starts empty)."""


class MemoryLike(Protocol):
    """``app.session.memory.Memory`` as the driver uses it."""

    def instructions_block(self) -> str:
        """Pinned facts to append to the instructions."""


class MeterLike(Protocol):
    """``app.metrics.latency.LatencyMeter`` as the driver uses it."""

    def mark(self, turn_id: str, name: str, t: float) -> None:
        """Record a monotonic timestamp for one turn."""
