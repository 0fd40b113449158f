"""Value types the core publishes to whoever observes it (the GUI bridge, the CLI, tests).

Every type here is a frozen, slotted dataclass: immutable, cheap, safe to hand across threads.
Producers call an ``Observer`` (any callable taking one event) that was passed in at construction;
``ui/bridge.py`` turns those calls into queued Qt signals, the CLI prints them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class NoticeLevel(enum.Enum):
    """How loud a notice should be: INFO/WARNING go to the status line, ERROR to a banner."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class NoticeCategory(enum.Enum):
    """What a notice is about; the GUI picks the action button from this."""

    GENERAL = "general"
    SETTINGS = "settings"
    SECRETS = "secrets"
    AUDIO_DEVICE = "audio_device"
    CONNECTIVITY = "connectivity"
    AUTHENTICATION = "authentication"
    QUOTA = "quota"
    INVALID_REQUEST = "invalid_request"
    MODEL = "model"
    TURN = "turn"


@dataclass(frozen=True, slots=True)
class UserNotice:
    """Something the user should be told, in plain words, with an optional action.

    Attributes:
        level: how prominent the notice is.
        category: what it is about.
        text: the message, already phrased for the user (what happened and what to do).
        action: an optional action id the GUI maps to a button (e.g. ``"open_settings"``).
    """

    level: NoticeLevel
    category: NoticeCategory
    text: str
    action: str | None = None


LEVEL_WINDOW_S = 0.005
"""Window of ``AudioChunk.levels_db``."""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A PCM16 mono chunk of cleaned microphone audio at the session's sample rate.

    Attributes:
        pcm: little-endian int16 samples.
        sample_rate: samples per second of ``pcm``.
        first_sample: index of the first sample since capture started (session rate).
        captured_at: ``time.monotonic()`` when the first sample hit the ADC (PortAudio time mapped
            to the monotonic clock where available).
        levels_db: level (dBFS) of consecutive ``LEVEL_WINDOW_S`` windows of the cleaned audio
            at unity gain (before the AGC, which compresses the talker's dynamics), computed
            since the last chunk; empty when the producer has none (then ``pcm``'s level serves).
        levels_at: ADC time of the first of ``levels_db``'s windows.
    """

    pcm: bytes
    sample_rate: int
    first_sample: int
    captured_at: float
    levels_db: tuple[float, ...] = ()
    levels_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Local VAD: the user started speaking (after hysteresis).

    Attributes:
        sample: index (session rate) of the first speech sample, including no padding.
        at: ``time.monotonic()`` of that sample at the ADC (over echo, dated back by the
            capture DSP to the truest onset it can find: the latency meter's).
        evidence_at: where the evidence that decided it began (at or after ``at``; over echo,
            the Speex mark only, which an echo leak rarely fakes): what the minimum
            interruption may count from. None = ``at``.
    """

    sample: int
    at: float
    evidence_at: float | None = None


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Local VAD: the user stopped speaking (after the minimum silence).

    Attributes:
        sample: index (session rate) just past the last speech sample.
        at: ``time.monotonic()`` of that sample at the ADC.
    """

    sample: int
    at: float


@dataclass(frozen=True, slots=True)
class PlaybackDrained:
    """The playback queue ran empty after the last queued sample reached the device.

    Attributes:
        response_id: the response whose audio finished, if known.
        at: ``time.monotonic()`` when the last sample left the DAC.
    """

    response_id: str | None
    at: float


Observer = Callable[[object], None]
"""A sink for core events. Called from any thread; must not block."""


class AssistantState(enum.Enum):
    """What the conversation is doing, as the user should see it (the FSM's public face)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    ASSISTANT_SPEAKING = "assistant_speaking"
    INTERRUPTING = "interrupting"
    TOOL_RUNNING = "tool_running"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SessionStateChanged:
    """The barge-in state machine moved; ``reason`` says why (for logs and tooltips)."""

    state: AssistantState
    reason: str


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """The whole current text of one transcript line (the GUI replaces the line by ``item_id``).

    Attributes:
        item_id: the conversation item this line belongs to.
        role: ``"user"`` or ``"assistant"``.
        text: everything known so far (for an interrupted assistant turn: what was heard).
        final: no more deltas will come for this line.
        started_at: ``time.monotonic()`` when the speech of this line started (for ordering).
        unheard: text the assistant generated but the user never heard (cut by a barge-in).
        interrupted: the assistant turn was cut off.
    """

    item_id: str
    role: str
    text: str
    final: bool
    started_at: float
    unheard: str = ""
    interrupted: bool = False


class ToolStatus(enum.Enum):
    """Lifecycle of one tool call."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ToolCallUpdated:
    """A tool call started or finished."""

    call_id: str
    name: str
    status: ToolStatus
    arguments: str = ""
    result: str | None = None


class ConnectionState(enum.Enum):
    """State of the link to the realtime provider."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The provider link changed state (shown as the provider/model indicator)."""

    provider: str
    model: str
    state: ConnectionState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ModelLoadProgress:
    """Background model loading of the local engine.

    Attributes:
        component: e.g. ``"stt"``, ``"tts"``, ``"vad"``.
        fraction: 0..1.
        detail: human-readable text (engine and model name).
        done: loading finished (successfully unless ``error`` is set).
        error: what went wrong and what to install, if it failed.
    """

    component: str
    fraction: float
    detail: str
    done: bool = False
    error: str | None = None
