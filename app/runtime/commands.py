"""Commands the GUI, the CLI and hotkeys post to the core (``Core.submit``).

Commands are imperative, frozen and cheap; the runtime routes each to the thread that owns the
state it changes (the session loop for conversation commands, the engine for audio ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PushToTalkPressed:
    """The push-to-talk key or button went down: barge in if needed, clear input, start sending."""


@dataclass(frozen=True, slots=True)
class PushToTalkReleased:
    """The push-to-talk key or button went up: commit the turn and ask for a response.

    ``at`` is when it went up on the monotonic clock, for a sender that learns of the release
    late (Space waits out a split X auto-repeat pair); None means "now". It is a timestamp, not
    part of the command's identity, so it does not take part in equality.
    """

    at: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Interrupt:
    """The interrupt button or hotkey: barge in on the assistant (through the state machine)."""


@dataclass(frozen=True, slots=True)
class SendText:
    """A typed user turn."""

    text: str


@dataclass(frozen=True, slots=True)
class Announce:
    """Have the assistant say something on its own (a timer went off), once it is idle.

    ``text`` is an instruction to the model, e.g. "The 10 minute timer is done; tell the user."
    It is sent as a system message and never interrupts the user or the assistant.
    """

    text: str


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Connect again after a permanent failure (e.g. the user fixed the API key)."""


@dataclass(frozen=True, slots=True)
class SetTurnMode:
    """Switch between ``"push_to_talk"`` and ``"hands_free"``."""

    mode: str


@dataclass(frozen=True, slots=True)
class SetMicMuted:
    """Mute or unmute the microphone uplink."""

    muted: bool


@dataclass(frozen=True, slots=True)
class ApplySettings:
    """Apply a validated set of changed settings (dotted key → value)."""

    changes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Stop everything in order."""


Command = (
    PushToTalkPressed
    | PushToTalkReleased
    | Interrupt
    | SendText
    | Announce
    | Reconnect
    | SetTurnMode
    | SetMicMuted
    | ApplySettings
    | Shutdown
)
