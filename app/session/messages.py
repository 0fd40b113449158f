"""Provider-neutral conversation events (server → core) and commands (core → server).

Every provider codec maps its wire format onto these frozen, slotted values, so the state
machine, tools, context and transcripts are written once. Audio is carried as raw PCM16 bytes
(already decoded from base64).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.session.config import SessionConfig

# --------------------------------------------------------------------------- server events


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The provider opened the session (``session.created``) or applied an update."""

    session_id: str
    updated: bool
    turn_detection: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class UserSpeechStarted:
    """Provider VAD heard the user start (``input_audio_buffer.speech_started``).

    ``audio_start_ms`` is negative when the provider gives no input-stream offset (Gemini).
    """

    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class UserSpeechStopped:
    """Provider VAD heard the user stop (``input_audio_buffer.speech_stopped``).

    ``audio_end_ms`` is negative when the provider gives no input-stream offset (Gemini).
    """

    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    """The input buffer became user item ``item_id``."""

    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class InputCleared:
    """The input buffer was cleared."""


@dataclass(frozen=True, slots=True)
class InputTimeout:
    """Server VAD idle timeout fired (a response follows)."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ItemAdded:
    """A conversation item was added or completed (``conversation.item.added/.done/.created``).

    Attributes:
        item_id: id of the item.
        item_type: ``message``, ``function_call``, ``function_call_output``, …
        role: message role, or ``""`` for non-messages.
        text: concatenated text or transcript known so far.
        previous_item_id: the item it follows, if given.
        done: the item is complete (``.done``).
    """

    item_id: str
    item_type: str
    role: str
    text: str
    previous_item_id: str | None
    done: bool


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    """The server truncated an assistant audio item."""

    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    """The server deleted an item."""

    item_id: str


@dataclass(frozen=True, slots=True)
class UserTranscriptDelta:
    """Part of the transcript of a user item."""

    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class UserTranscriptDone:
    """The full transcript of a user item."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class UserTranscriptFailed:
    """Transcription of a user item failed."""

    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    """A response started."""

    response_id: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A completed function call item of a response."""

    item_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """A response ended (always sent, also for cancelled ones).

    Attributes:
        response_id: the response.
        status: ``completed``, ``cancelled``, ``incomplete``, ``failed``.
        reason: ``status_details.reason`` (e.g. ``turn_detected``, ``client_cancelled``).
        function_calls: completed function calls in its output, in order.
        error_code: ``status_details.error.code`` for failed responses.
    """

    response_id: str
    status: str
    reason: str | None
    function_calls: tuple[FunctionCall, ...]
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class OutputItemAdded:
    """A response output item started (message or function call)."""

    response_id: str
    item_id: str
    item_type: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """Decoded assistant audio (PCM16 LE mono) for one content part."""

    response_id: str
    item_id: str
    content_index: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class AudioDone:
    """The audio of one content part is complete."""

    response_id: str
    item_id: str
    content_index: int


@dataclass(frozen=True, slots=True)
class AssistantTranscriptDelta:
    """Part of the assistant's transcript (audio transcript or text output)."""

    response_id: str
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class AssistantTranscriptDone:
    """The assistant's full transcript of one item."""

    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionArgumentsDone:
    """The arguments of a function call are complete."""

    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One ``rate_limits.updated`` entry."""

    name: str
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class RateLimitsUpdated:
    """The provider's rate-limit counters."""

    limits: tuple[RateLimit, ...]


@dataclass(frozen=True, slots=True)
class ServerError:
    """An in-band ``error`` event (the socket usually stays open)."""

    kind: str
    code: str | None
    message: str
    param: str | None
    event_id: str | None


@dataclass(frozen=True, slots=True)
class FunctionCallsCancelled:
    """The provider withdrew function calls (Gemini ``toolCallCancellation``): abort them."""

    call_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SessionEnding:
    """The provider will close this connection soon (Gemini ``goAway``): reconnect in advance.

    Attributes:
        time_left_s: seconds until the server aborts the connection, when it said.
    """

    time_left_s: float | None


ServerEvent = (
    SessionStarted
    | UserSpeechStarted
    | UserSpeechStopped
    | InputCommitted
    | InputCleared
    | InputTimeout
    | ItemAdded
    | ItemTruncated
    | ItemDeleted
    | UserTranscriptDelta
    | UserTranscriptDone
    | UserTranscriptFailed
    | ResponseCreated
    | ResponseDone
    | OutputItemAdded
    | AudioDelta
    | AudioDone
    | AssistantTranscriptDelta
    | AssistantTranscriptDone
    | FunctionArgumentsDone
    | RateLimitsUpdated
    | ServerError
    | FunctionCallsCancelled
    | SessionEnding
)

# --------------------------------------------------------------------------- client commands


@dataclass(frozen=True, slots=True)
class ConfigureSession:
    """Send the whole session configuration (plus tool schemas and instructions)."""

    config: SessionConfig
    tools: tuple[dict[str, object], ...] = ()
    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class AppendAudio:
    """Append PCM16 LE mono audio at the session rate to the input buffer."""

    pcm: bytes


@dataclass(frozen=True, slots=True)
class CommitInput:
    """Commit the input buffer as a user item."""


@dataclass(frozen=True, slots=True)
class ClearInput:
    """Discard the input buffer."""


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """Ask for a response (optionally with per-response instructions)."""

    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Cancel the active response (``response_id`` pins an orphan)."""

    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class TruncateItem:
    """Cut an assistant audio item at what the user heard."""

    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """Delete a conversation item."""

    item_id: str


@dataclass(frozen=True, slots=True)
class AddMessage:
    """Add a text message item (a typed turn, a replayed turn or a repair note).

    Attributes:
        role: ``user``, ``assistant`` or ``system``.
        text: the message.
        item_id: id to give the item (used when replaying kept context).
    """

    role: str
    text: str
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class AddFunctionOutput:
    """Return a tool result for ``call_id``."""

    call_id: str
    output: str


ClientCommand = (
    ConfigureSession
    | AppendAudio
    | CommitInput
    | ClearInput
    | CreateResponse
    | CancelResponse
    | TruncateItem
    | DeleteItem
    | AddMessage
    | AddFunctionOutput
)
