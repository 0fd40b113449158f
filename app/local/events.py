"""Builders for the server events of the OpenAI Realtime protocol (GA shapes).

Every builder returns a fresh JSON-ready ``dict`` carrying a new ``event_id``. Ids use the prefixes
the real service uses (``event_``, ``item_``, ``resp_``, ``sess_``, ``call_``, ``conv_``) so a
client that keys its state on ids cannot tell this server from the real one.
"""

from __future__ import annotations

import secrets
from typing import Any, Generic, TypeVar

JSON = dict[str, Any]
_V = TypeVar("_V")


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``item_5fK2…`` (prefix, underscore, 20 random characters)."""
    return f"{prefix}_{secrets.token_urlsafe(15)[:20]}"


def _event(type_: str, **fields: Any) -> JSON:
    return {"type": type_, "event_id": new_id("event"), **fields}


def error(
    message: str,
    *,
    code: str | None,
    client_event_id: str | None = None,
    param: str | None = None,
    type_: str = "invalid_request_error",
) -> JSON:
    """An ``error`` event; ``client_event_id`` echoes the offending client event's ``event_id``."""
    return _event(
        "error",
        error={
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    )


def session_created(session: JSON) -> JSON:
    """``session.created`` with the full effective session."""
    return _event("session.created", session=session)


def session_updated(session: JSON) -> JSON:
    """``session.updated`` with the full effective session (the client's event_id is not echoed)."""
    return _event("session.updated", session=session)


def conversation_item_added(item: JSON, previous_item_id: str | None) -> JSON:
    """``conversation.item.added``; the item must not carry audio bytes."""
    return _event("conversation.item.added", item=item, previous_item_id=previous_item_id)


def conversation_item_done(item: JSON, previous_item_id: str | None) -> JSON:
    """``conversation.item.done``: the item is final."""
    return _event("conversation.item.done", item=item, previous_item_id=previous_item_id)


def conversation_item_retrieved(item: JSON) -> JSON:
    """``conversation.item.retrieved`` (the item with its audio)."""
    return _event("conversation.item.retrieved", item=item)


def conversation_item_deleted(item_id: str) -> JSON:
    """``conversation.item.deleted``."""
    return _event("conversation.item.deleted", item_id=item_id)


def conversation_item_truncated(item_id: str, content_index: int, audio_end_ms: int) -> JSON:
    """``conversation.item.truncated``."""
    return _event(
        "conversation.item.truncated",
        item_id=item_id,
        content_index=content_index,
        audio_end_ms=audio_end_ms,
    )


def transcription_delta(item_id: str, content_index: int, delta: str) -> JSON:
    """``conversation.item.input_audio_transcription.delta``."""
    return _event(
        "conversation.item.input_audio_transcription.delta",
        item_id=item_id,
        content_index=content_index,
        delta=delta,
    )


def transcription_completed(
    item_id: str, content_index: int, transcript: str, seconds: float
) -> JSON:
    """``conversation.item.input_audio_transcription.completed`` with duration usage."""
    return _event(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        content_index=content_index,
        transcript=transcript,
        usage={"type": "duration", "seconds": round(seconds, 3)},
    )


def transcription_failed(item_id: str, content_index: int, message: str) -> JSON:
    """``conversation.item.input_audio_transcription.failed``."""
    return _event(
        "conversation.item.input_audio_transcription.failed",
        item_id=item_id,
        content_index=content_index,
        error={"type": "server_error", "code": "transcription_failed", "message": message},
    )


def speech_started(audio_start_ms: int, item_id: str) -> JSON:
    """``input_audio_buffer.speech_started``."""
    return _event(
        "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms, item_id=item_id
    )


def speech_stopped(audio_end_ms: int, item_id: str) -> JSON:
    """``input_audio_buffer.speech_stopped``."""
    return _event("input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms, item_id=item_id)


def buffer_committed(item_id: str, previous_item_id: str | None) -> JSON:
    """``input_audio_buffer.committed``."""
    return _event(
        "input_audio_buffer.committed", item_id=item_id, previous_item_id=previous_item_id
    )


def buffer_cleared() -> JSON:
    """``input_audio_buffer.cleared``."""
    return _event("input_audio_buffer.cleared")


def rate_limits_updated() -> JSON:
    """``rate_limits.updated``; a local engine has no limits, so it reports generous ones."""
    return _event(
        "rate_limits.updated",
        rate_limits=[
            {"name": "requests", "limit": 10_000, "remaining": 9_999, "reset_seconds": 0.0},
            {"name": "tokens", "limit": 1_000_000, "remaining": 1_000_000, "reset_seconds": 0.0},
        ],
    )


def response_created(response: JSON) -> JSON:
    """``response.created`` (status ``in_progress``, empty output)."""
    return _event("response.created", response=response)


def response_done(response: JSON) -> JSON:
    """``response.done``: always sent, whatever the status."""
    return _event("response.done", response=response)


def output_item_added(response_id: str, output_index: int, item: JSON) -> JSON:
    """``response.output_item.added``."""
    return _event(
        "response.output_item.added", response_id=response_id, output_index=output_index, item=item
    )


def output_item_done(response_id: str, output_index: int, item: JSON) -> JSON:
    """``response.output_item.done``."""
    return _event(
        "response.output_item.done", response_id=response_id, output_index=output_index, item=item
    )


def _part_fields(response_id: str, item_id: str, output_index: int, content_index: int) -> JSON:
    return {
        "response_id": response_id,
        "item_id": item_id,
        "output_index": output_index,
        "content_index": content_index,
    }


class PartEvent(Generic[_V]):
    """Builds one kind of content-part event: the part's ids, then its one payload field.

    Called as ``builder(response_id, item_id, output_index, content_index, value)``.
    """

    def __init__(self, type_: str, field: str) -> None:
        self.type = type_
        self.field = field

    def __call__(
        self, response_id: str, item_id: str, output_index: int, content_index: int, value: _V
    ) -> JSON:
        """The event, with a fresh ``event_id``."""
        ids = _part_fields(response_id, item_id, output_index, content_index)
        return _event(self.type, **{self.field: value}, **ids)


content_part_added = PartEvent[JSON]("response.content_part.added", "part")
"""``response.content_part.added``."""
content_part_done = PartEvent[JSON]("response.content_part.done", "part")
"""``response.content_part.done``."""
audio_delta = PartEvent[str]("response.output_audio.delta", "delta")
"""``response.output_audio.delta`` (the value is base64 pcm16 24 kHz)."""
transcript_delta = PartEvent[str]("response.output_audio_transcript.delta", "delta")
"""``response.output_audio_transcript.delta``."""
transcript_done = PartEvent[str]("response.output_audio_transcript.done", "transcript")
"""``response.output_audio_transcript.done``."""
text_delta = PartEvent[str]("response.output_text.delta", "delta")
"""``response.output_text.delta`` (text-only responses)."""
text_done = PartEvent[str]("response.output_text.done", "text")
"""``response.output_text.done``."""


def audio_done(response_id: str, item_id: str, output_index: int, content_index: int) -> JSON:
    """``response.output_audio.done``."""
    ids = _part_fields(response_id, item_id, output_index, content_index)
    return _event("response.output_audio.done", **ids)


def arguments_delta(
    response_id: str, item_id: str, output_index: int, call_id: str, delta: str
) -> JSON:
    """``response.function_call_arguments.delta``."""
    return _event(
        "response.function_call_arguments.delta",
        response_id=response_id,
        item_id=item_id,
        output_index=output_index,
        call_id=call_id,
        delta=delta,
    )


def arguments_done(
    response_id: str, item_id: str, output_index: int, call_id: str, name: str, arguments: str
) -> JSON:
    """``response.function_call_arguments.done`` with the complete JSON ``arguments``."""
    return _event(
        "response.function_call_arguments.done",
        response_id=response_id,
        item_id=item_id,
        output_index=output_index,
        call_id=call_id,
        name=name,
        arguments=arguments,
    )


def conversation_created(conversation_id: str) -> JSON:
    """``conversation.created``: the session's default conversation (sent after session.created)."""
    return _event(
        "conversation.created",
        conversation={"id": conversation_id, "object": "realtime.conversation"},
    )


def timeout_triggered(audio_start_ms: int, audio_end_ms: int, item_id: str) -> JSON:
    """``input_audio_buffer.timeout_triggered``: ``idle_timeout_ms`` passed without speech."""
    return _event(
        "input_audio_buffer.timeout_triggered",
        audio_start_ms=audio_start_ms,
        audio_end_ms=audio_end_ms,
        item_id=item_id,
    )
