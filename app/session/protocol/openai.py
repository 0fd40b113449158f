"""Sans-I/O codec for the OpenAI Realtime protocol (GA names and shapes; beta names accepted).

``OpenAICodec.decode`` turns one server frame into a typed event from ``app.session.messages``
(or ``None``); ``OpenAICodec.encode`` turns a typed command into one client JSON frame. Nothing
here touches a socket. Malformed frames (bad JSON, wrong types, invalid base64, absurd sizes) are
counted, logged and dropped; unknown event types are logged once per type and ignored.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import assert_never

from app.session import messages as m
from app.session.config import (
    RetentionRatio,
    SessionConfig,
    TurnMode,
    VadKind,
    auth_headers,
    realtime_url,
)
from app.session.errors import Failure, classify_close, redact

log = logging.getLogger("app.session.protocol")

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


class OpenAICodec:
    """Stateless-per-frame translator between OpenAI Realtime JSON and typed messages.

    Attributes:
        malformed: count of rejected frames by reason.
        unknown: count of unknown event types seen.
        configure_in_band: ``session.update`` applies new settings on an open connection.
        truncates: ``conversation.item.truncate`` cuts an assistant item at what was heard.
        cancels: ``response.cancel`` ends a response at once (its ``response.done`` follows).
        resumes: a new connection starts an empty conversation (the kept context is replayed).
    """

    configure_in_band = True
    truncates = True
    cancels = True
    resumes = False

    def __init__(self, max_frame_bytes: int = 8 * 1024 * 1024) -> None:
        self._max_frame_bytes = max_frame_bytes
        self._ids = itertools.count(1)
        self._replay_ids = itertools.count(1)
        self.malformed: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()

    # ------------------------------------------------------------------ connection

    def url(self, config: SessionConfig) -> str:
        """The WebSocket address (``<base>/realtime?model=…`` or ``config.url``)."""
        return realtime_url(config)

    def headers(self, config: SessionConfig, secret: str | None) -> dict[str, str]:
        """Handshake headers carrying ``secret`` (``Authorization: Bearer`` by default)."""
        return auth_headers(config, secret)

    def handshake(
        self, configure: m.ConfigureSession, seed: list[dict[str, object]]
    ) -> list[dict[str, object]]:
        """Nothing: the server speaks first (``session.created``)."""
        return []

    def after_start(
        self, configure: m.ConfigureSession, seed: list[dict[str, object]]
    ) -> list[dict[str, object]]:
        """The ``session.update``, then the kept context as ``conversation.item.create`` events."""
        frames = [self.payload(configure)]
        for payload in seed:
            body = dict(payload)
            body["event_id"] = f"evt_vdr{next(self._replay_ids)}"
            frames.append(body)
        return frames

    def close_failure(self, code: int | None, reason: str) -> Failure:
        """Classify a close frame (1001 = session limit or going away: reconnect)."""
        return Failure(classify_close(code), redact(f"closed {code}: {reason}"))

    def decode_all(self, frame: str | bytes) -> list[m.ServerEvent]:
        """The typed event of one server frame as a list (one frame is one event here)."""
        event = self.decode(frame)
        return [] if event is None else [event]

    def payloads(self, command: m.ClientCommand) -> list[dict[str, object]]:
        """The client event for ``command`` as a one-element list."""
        return [self.payload(command)]

    @staticmethod
    def event_type(payload: Mapping[str, object]) -> str:
        """The client event's ``type``."""
        return str(payload.get("type", ""))

    # ------------------------------------------------------------------ decoding

    def decode(self, frame: str | bytes) -> m.ServerEvent | None:
        """Return the typed event for one server frame, or ``None`` (ignored or rejected)."""
        try:
            if len(frame) > self._max_frame_bytes:
                raise MalformedEvent(f"frame of {len(frame)} bytes exceeds the limit")
            try:
                data = json.loads(frame)
            except (ValueError, UnicodeDecodeError) as exc:
                raise MalformedEvent("not JSON") from exc
            if not isinstance(data, dict):
                raise MalformedEvent("not a JSON object")
            kind = _str(data, "type")
            kind = BETA_ALIASES.get(kind, kind)
            parser = _PARSERS.get(kind)
            if parser is None:
                if kind not in IGNORED_TYPES:
                    self._unknown(kind)
                return None
            return parser(data)
        except MalformedEvent as exc:
            reason = str(exc)
            self.malformed[reason] += 1
            if self.malformed[reason] == 1 or self.malformed[reason] % 100 == 0:
                log.warning(
                    "rejected malformed server event (%s), %d so far",
                    reason,
                    self.malformed[reason],
                )
            return None

    def _unknown(self, kind: str) -> None:
        self.unknown[kind] += 1
        if self.unknown[kind] == 1:
            log.info("ignoring unknown server event type %r", kind[:80])

    # ------------------------------------------------------------------ encoding

    def encode(self, command: m.ClientCommand) -> str:
        """Return the client JSON frame for ``command`` (with a fresh ``event_id``)."""
        return json.dumps(self.payload(command), separators=(",", ":"))

    def payload(self, command: m.ClientCommand) -> dict[str, object]:
        """Return the client event for ``command`` as a dict (with a fresh ``event_id``)."""
        body = _encode(command)
        body["event_id"] = f"evt_vd{next(self._ids)}"
        return body


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
    if len(text) > MAX_AUDIO_DELTA_BYTES * 4 // 3 + 4:
        raise MalformedEvent("audio delta is absurdly large")
    try:
        pcm = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEvent("audio delta is not valid base64") from exc
    if len(pcm) % 2:
        raise MalformedEvent("audio delta has an odd byte count")
    return pcm


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


_Parser = Callable[[dict[str, object]], m.ServerEvent | None]

_PARSERS: dict[str, _Parser] = {
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


# ---------------------------------------------------------------------- encoders


def turn_detection_payload(config: SessionConfig) -> dict[str, object] | None:
    """Return the GA ``audio.input.turn_detection`` object for ``config`` (None = client turns)."""
    if config.turn_mode is TurnMode.PUSH_TO_TALK or config.vad is VadKind.LOCAL:
        return None
    if config.vad is VadKind.SEMANTIC_VAD:
        sem = config.semantic_vad
        return {
            "type": "semantic_vad",
            "eagerness": sem.eagerness,
            "create_response": sem.create_response,
            "interrupt_response": sem.interrupt_response,
        }
    vad = config.server_vad
    payload: dict[str, object] = {
        "type": "server_vad",
        "threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "silence_duration_ms": vad.silence_duration_ms,
        "create_response": vad.create_response,
        "interrupt_response": vad.interrupt_response,
    }
    if vad.idle_timeout_ms is not None:
        payload["idle_timeout_ms"] = vad.idle_timeout_ms
    return payload


def _truncation(value: str | RetentionRatio) -> object:
    if isinstance(value, str):
        return value
    payload: dict[str, object] = {"type": "retention_ratio", "retention_ratio": value.ratio}
    if value.post_instructions_tokens is not None:
        payload["token_limits"] = {"post_instructions": value.post_instructions_tokens}
    return payload


def session_payload(
    config: SessionConfig,
    tools: tuple[dict[str, object], ...] = (),
    instructions: str | None = None,
) -> dict[str, object]:
    """Return the GA ``session`` object of a ``session.update`` built from ``config``."""
    pcm = {"type": "audio/pcm", "rate": config.sample_rate}
    audio_in: dict[str, object] = {
        "format": {"type": "audio/pcm", "rate": config.input_rate()},
        "turn_detection": turn_detection_payload(config),
        "noise_reduction": (
            {"type": config.noise_reduction} if config.noise_reduction is not None else None
        ),
        "transcription": None,
    }
    if config.transcription is not None:
        transcription: dict[str, object] = {"model": config.transcription.model}
        if config.transcription.language:
            transcription["language"] = config.transcription.language
        if config.transcription.prompt:
            transcription["prompt"] = config.transcription.prompt
        audio_in["transcription"] = transcription
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": config.instructions if instructions is None else instructions,
        "audio": {"input": audio_in, "output": {"format": pcm, "voice": config.voice}},
        "tools": [dict(tool) for tool in tools] if config.tools_enabled else [],
        "tool_choice": "auto",
        "truncation": _truncation(config.truncation),
    }


def _message_item(command: m.AddMessage) -> dict[str, object]:
    part_type = "output_text" if command.role == "assistant" else "input_text"
    item: dict[str, object] = {
        "type": "message",
        "role": command.role,
        "content": [{"type": part_type, "text": command.text}],
    }
    if command.item_id is not None:
        item["id"] = command.item_id
    return item


def _encode(command: m.ClientCommand) -> dict[str, object]:
    match command:
        case m.ConfigureSession(config=config, tools=tools, instructions=instructions):
            return {
                "type": "session.update",
                "session": session_payload(config, tools, instructions),
            }
        case m.AppendAudio(pcm=pcm):
            audio = base64.b64encode(pcm).decode("ascii")
            return {"type": "input_audio_buffer.append", "audio": audio}
        case m.CommitInput():
            return {"type": "input_audio_buffer.commit"}
        case m.ClearInput():
            return {"type": "input_audio_buffer.clear"}
        case m.CreateResponse(instructions=instructions):
            if instructions is None:
                return {"type": "response.create"}
            return {"type": "response.create", "response": {"instructions": instructions}}
        case m.CancelResponse(response_id=response_id):
            if response_id is None:
                return {"type": "response.cancel"}
            return {"type": "response.cancel", "response_id": response_id}
        case m.TruncateItem(item_id=item_id, content_index=index, audio_end_ms=end_ms):
            return {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": index,
                "audio_end_ms": end_ms,
            }
        case m.DeleteItem(item_id=item_id):
            return {"type": "conversation.item.delete", "item_id": item_id}
        case m.AddMessage():
            return {"type": "conversation.item.create", "item": _message_item(command)}
        case m.AddFunctionOutput(call_id=call_id, output=output):
            item = {"type": "function_call_output", "call_id": call_id, "output": output}
            return {"type": "conversation.item.create", "item": item}
        case _:  # pragma: no cover - exhaustiveness for the type checker
            assert_never(command)
