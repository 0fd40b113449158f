"""Decoding half of the OpenAI Realtime codec: typed reads of server frames and one parser per type.

``PARSERS`` maps a GA event type to the function that turns its JSON object into a typed event of
``app.session.messages``; every wrong type, invalid base64 or absurd size raises
``MalformedEvent``. ``OpenAICodec.decode`` (``app.session.protocol.openai``) parses the frame,
maps beta names with ``event_kind``, and counts and drops a frame whose read raises.

Thread: the session loop thread only (pure functions, no state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from app.session import messages as m
from app.session.protocol.pcm16 import Pcm16Error, decode_pcm16

# Beta event names and their GA equivalents.
BETA_ALIASES: Mapping[str, str] = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}

# Known server events that carry nothing the core acts on.
IGNORED_TYPES = frozenset(
    {
        "conversation.created",
        "conversation.item.retrieved",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.dtmf_event_received",
    }
)

MAX_AUDIO_DELTA_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 1_000_000


class MalformedEvent(ValueError):
    """A server frame that cannot be trusted (the reason is safe to log)."""


def event_kind(data: Mapping[str, object]) -> str:
    """The frame's event type, beta names mapped to their GA equivalents."""
    kind = _str(data, "type")
    return BETA_ALIASES.get(kind, kind)


# ---------------------------------------------------------------------- field access


def _get(data: Mapping[str, object], key: str, kind: type | tuple[type, ...], what: str) -> object:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise MalformedEvent(f"{key} is not {what}")
    return value


def _str(data: Mapping[str, object], key: str) -> str:
    value = _get(data, key, str, "a string")
    assert isinstance(value, str)
    if len(value) > MAX_TEXT_CHARS:
        raise MalformedEvent(f"{key} is absurdly long")
    return value


def _opt_str(data: Mapping[str, object], key: str) -> str | None:
    return None if data.get(key) is None else _str(data, key)


def _int(data: Mapping[str, object], key: str, default: int | None = None) -> int:
    if default is not None and data.get(key) is None:
        return default
    value = _get(data, key, int, "an integer")
    assert isinstance(value, int)
    return value


def _obj(data: Mapping[str, object], key: str) -> dict[str, object]:
    value = _get(data, key, dict, "an object")
    assert isinstance(value, dict)
    return value


def _opt_obj(data: Mapping[str, object], key: str) -> dict[str, object] | None:
    return None if data.get(key) is None else _obj(data, key)


def _list(data: Mapping[str, object], key: str) -> list[object]:
    if data.get(key) is None:
        return []
    value = _get(data, key, list, "a list")
    assert isinstance(value, list)
    return value


def _pcm(data: Mapping[str, object], key: str) -> bytes:
    text = _get(data, key, str, "a string")
    assert isinstance(text, str)
    try:
        return decode_pcm16(text, MAX_AUDIO_DELTA_BYTES, "audio delta")
    except Pcm16Error as exc:
        raise MalformedEvent(str(exc)) from exc


# ---------------------------------------------------------------------- parsers


def _session(data: dict[str, object]) -> m.SessionStarted:
    session = _obj(data, "session")
    audio = _opt_obj(session, "audio") or {}
    audio_in = _opt_obj(audio, "input") or {}
    turn = _opt_obj(audio_in, "turn_detection") or _opt_obj(session, "turn_detection")
    return m.SessionStarted(
        session_id=_opt_str(session, "id") or "",
        updated=data["type"] == "session.updated",
        turn_detection=turn,
    )


def _item_text(item: Mapping[str, object]) -> str:
    parts: list[str] = []
    for part in _list(item, "content"):
        if not isinstance(part, dict):
            raise MalformedEvent("content part is not an object")
        for key in ("text", "transcript"):
            if part.get(key) is not None:
                parts.append(_str(part, key))
    return "".join(parts)


def _item_added(data: dict[str, object]) -> m.ItemAdded:
    item = _obj(data, "item")
    return m.ItemAdded(
        item_id=_str(item, "id"),
        item_type=_str(item, "type"),
        role=_opt_str(item, "role") or "",
        text=_item_text(item),
        previous_item_id=_opt_str(data, "previous_item_id"),
        done=data["type"] == "conversation.item.done",
    )


def _output_item_done(data: dict[str, object]) -> m.FunctionArgumentsDone | None:
    """Turn a completed ``function_call`` output item into a complete call.

    Some servers never send ``response.function_call_arguments.done``; the finished item carries
    the same information. Other finished items carry nothing the core acts on.
    """
    item = _obj(data, "item")
    if _str(item, "type") != "function_call" or item.get("status") != "completed":
        return None
    return m.FunctionArgumentsDone(
        _str(data, "response_id"),
        _str(item, "id"),
        _str(item, "call_id"),
        _opt_str(item, "name") or "",
        _str(item, "arguments"),
    )


def _function_calls(response: Mapping[str, object]) -> tuple[m.FunctionCall, ...]:
    calls: list[m.FunctionCall] = []
    for item in _list(response, "output"):
        if not isinstance(item, dict):
            raise MalformedEvent("response output item is not an object")
        if item.get("type") != "function_call" or item.get("status", "completed") != "completed":
            continue
        calls.append(
            m.FunctionCall(
                item_id=_str(item, "id"),
                call_id=_str(item, "call_id"),
                name=_str(item, "name"),
                arguments=_opt_str(item, "arguments") or "",
            )
        )
    return tuple(calls)


def _response_done(data: dict[str, object]) -> m.ResponseDone:
    response = _obj(data, "response")
    details = _opt_obj(response, "status_details") or {}
    error = _opt_obj(details, "error") or {}
    status = _opt_str(response, "status") or "completed"
    return m.ResponseDone(
        response_id=_str(response, "id"),
        status=status,
        reason=_opt_str(details, "reason"),
        function_calls=_function_calls(response) if status == "completed" else (),
        error_code=_opt_str(error, "code"),
    )


def _rate_limits(data: dict[str, object]) -> m.RateLimitsUpdated:
    limits: list[m.RateLimit] = []
    for entry in _list(data, "rate_limits"):
        if not isinstance(entry, dict):
            raise MalformedEvent("rate limit is not an object")
        reset = _get(entry, "reset_seconds", (int, float), "a number")
        assert isinstance(reset, int | float)
        limits.append(
            m.RateLimit(
                _str(entry, "name"), _int(entry, "limit"), _int(entry, "remaining"), float(reset)
            )
        )
    return m.RateLimitsUpdated(tuple(limits))


def _error(data: dict[str, object]) -> m.ServerError:
    error = _obj(data, "error")
    return m.ServerError(
        kind=_opt_str(error, "type") or "error",
        code=_opt_str(error, "code"),
        message=_opt_str(error, "message") or "",
        param=_opt_str(error, "param"),
        event_id=_opt_str(error, "event_id"),
    )


def _transcript_failed(data: dict[str, object]) -> m.UserTranscriptFailed:
    error = _opt_obj(data, "error") or {}
    return m.UserTranscriptFailed(_str(data, "item_id"), _opt_str(error, "message") or "failed")


Parser = Callable[[dict[str, object]], m.ServerEvent | None]

PARSERS: dict[str, Parser] = {
    "session.created": _session,
    "session.updated": _session,
    "input_audio_buffer.speech_started": lambda d: m.UserSpeechStarted(
        _str(d, "item_id"), _int(d, "audio_start_ms", 0)
    ),
    "input_audio_buffer.speech_stopped": lambda d: m.UserSpeechStopped(
        _str(d, "item_id"), _int(d, "audio_end_ms", 0)
    ),
    "input_audio_buffer.committed": lambda d: m.InputCommitted(
        _str(d, "item_id"), _opt_str(d, "previous_item_id")
    ),
    "input_audio_buffer.cleared": lambda d: m.InputCleared(),
    "input_audio_buffer.timeout_triggered": lambda d: m.InputTimeout(_str(d, "item_id")),
    "conversation.item.added": _item_added,
    "conversation.item.done": _item_added,
    "conversation.item.truncated": lambda d: m.ItemTruncated(
        _str(d, "item_id"), _int(d, "content_index", 0), _int(d, "audio_end_ms")
    ),
    "conversation.item.deleted": lambda d: m.ItemDeleted(_str(d, "item_id")),
    "conversation.item.input_audio_transcription.delta": lambda d: m.UserTranscriptDelta(
        _str(d, "item_id"), _opt_str(d, "delta") or ""
    ),
    "conversation.item.input_audio_transcription.completed": lambda d: m.UserTranscriptDone(
        _str(d, "item_id"), _str(d, "transcript")
    ),
    "conversation.item.input_audio_transcription.failed": _transcript_failed,
    "response.created": lambda d: m.ResponseCreated(_str(_obj(d, "response"), "id")),
    "response.done": _response_done,
    "response.output_item.done": _output_item_done,
    "response.output_item.added": lambda d: m.OutputItemAdded(
        _str(d, "response_id"), _str(_obj(d, "item"), "id"), _str(_obj(d, "item"), "type")
    ),
    "response.output_audio.delta": lambda d: m.AudioDelta(
        _str(d, "response_id"), _str(d, "item_id"), _int(d, "content_index", 0), _pcm(d, "delta")
    ),
    "response.output_audio.done": lambda d: m.AudioDone(
        _str(d, "response_id"), _str(d, "item_id"), _int(d, "content_index", 0)
    ),
    "response.output_audio_transcript.delta": lambda d: m.AssistantTranscriptDelta(
        _str(d, "response_id"), _str(d, "item_id"), _str(d, "delta")
    ),
    "response.output_text.delta": lambda d: m.AssistantTranscriptDelta(
        _str(d, "response_id"), _str(d, "item_id"), _str(d, "delta")
    ),
    "response.output_audio_transcript.done": lambda d: m.AssistantTranscriptDone(
        _str(d, "response_id"), _str(d, "item_id"), _opt_str(d, "transcript") or ""
    ),
    "response.output_text.done": lambda d: m.AssistantTranscriptDone(
        _str(d, "response_id"), _str(d, "item_id"), _opt_str(d, "text") or ""
    ),
    "response.function_call_arguments.done": lambda d: m.FunctionArgumentsDone(
        _str(d, "response_id"),
        _str(d, "item_id"),
        _str(d, "call_id"),
        _opt_str(d, "name") or "",
        _str(d, "arguments"),
    ),
    "rate_limits.updated": _rate_limits,
    "error": _error,
}
