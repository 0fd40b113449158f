"""OpenAI Realtime codec: decoding (GA + beta), rejection of malformed input, encoding."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter

from app.session import messages as m
from app.session.config import (
    RetentionRatio,
    SemanticVadParams,
    ServerVadParams,
    SessionConfig,
    TranscriptionParams,
    TurnMode,
    VadKind,
)
from app.session.protocol.openai import OpenAICodec
from app.session.protocol.openai_encode import session_payload

CLIENT = TypeAdapter(RealtimeClientEvent)
SERVER = TypeAdapter(RealtimeServerEvent)
BETA = TypeAdapter(BetaServerEvent)

PCM = b"\x01\x00\x02\x00"
B64 = base64.b64encode(PCM).decode()
BASE = {
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
}
RESPONSE = {"id": "resp_1", "object": "realtime.response", "status": "in_progress", "output": []}


def _no_extras(model: BaseModel, path: str = "") -> None:
    """Every key we send must be a declared field (the SDK models allow extras)."""
    assert not model.model_extra, f"unknown keys at {path or 'top'}: {model.model_extra}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, BaseModel):
                _no_extras(v, f"{path}.{name}")


def _valid_client(payload: dict[str, Any]) -> None:
    _no_extras(CLIENT.validate_python(payload))


GA_FIXTURES: list[tuple[dict[str, Any], type]] = [
    (
        {
            "type": "session.created",
            "event_id": "e",
            "session": {
                "type": "realtime",
                "id": "sess_1",
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}
                },
            },
        },
        m.SessionStarted,
    ),
    (
        {
            "type": "session.updated",
            "event_id": "e",
            "session": {"type": "realtime", "id": "sess_1"},
        },
        m.SessionStarted,
    ),
    (
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "e",
            "item_id": "item_u",
            "audio_start_ms": 120,
        },
        m.UserSpeechStarted,
    ),
    (
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": "e",
            "item_id": "item_u",
            "audio_end_ms": 900,
        },
        m.UserSpeechStopped,
    ),
    (
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u",
            "previous_item_id": None,
        },
        m.InputCommitted,
    ),
    ({"type": "input_audio_buffer.cleared", "event_id": "e"}, m.InputCleared),
    (
        {
            "type": "input_audio_buffer.timeout_triggered",
            "event_id": "e",
            "item_id": "item_u",
            "audio_start_ms": 0,
            "audio_end_ms": 5,
        },
        m.InputTimeout,
    ),
    (
        {
            "type": "conversation.item.added",
            "event_id": "e",
            "previous_item_id": None,
            "item": {
                "id": "item_a",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [{"type": "output_audio", "transcript": "hi"}],
            },
        },
        m.ItemAdded,
    ),
    (
        {
            "type": "conversation.item.done",
            "event_id": "e",
            "previous_item_id": "item_u",
            "item": {
                "id": "item_u",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            },
        },
        m.ItemAdded,
    ),
    (
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "item_a",
            "content_index": 0,
            "audio_end_ms": 300,
        },
        m.ItemTruncated,
    ),
    ({"type": "conversation.item.deleted", "event_id": "e", "item_id": "item_a"}, m.ItemDeleted),
    (
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "event_id": "e",
            "item_id": "item_u",
            "content_index": 0,
            "delta": "hel",
        },
        m.UserTranscriptDelta,
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "item_u",
            "content_index": 0,
            "transcript": "hello",
            "usage": {"type": "duration", "seconds": 1.0},
        },
        m.UserTranscriptDone,
    ),
    (
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "event_id": "e",
            "item_id": "item_u",
            "content_index": 0,
            "error": {"message": "nope"},
        },
        m.UserTranscriptFailed,
    ),
    ({"type": "response.created", "event_id": "e", "response": RESPONSE}, m.ResponseCreated),
    (
        {
            "type": "response.done",
            "event_id": "e",
            "response": {
                **RESPONSE,
                "status": "cancelled",
                "status_details": {"type": "cancelled", "reason": "turn_detected"},
            },
        },
        m.ResponseDone,
    ),
    (
        {
            "type": "response.output_item.added",
            "event_id": "e",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {"id": "item_a", "type": "message", "role": "assistant", "content": []},
        },
        m.OutputItemAdded,
    ),
    ({"type": "response.output_audio.delta", **BASE, "delta": B64}, m.AudioDelta),
    ({"type": "response.output_audio.done", **BASE}, m.AudioDone),
    (
        {"type": "response.output_audio_transcript.delta", **BASE, "delta": "Hel"},
        m.AssistantTranscriptDelta,
    ),
    (
        {"type": "response.output_audio_transcript.done", **BASE, "transcript": "Hello"},
        m.AssistantTranscriptDone,
    ),
    ({"type": "response.output_text.delta", **BASE, "delta": "Hel"}, m.AssistantTranscriptDelta),
    ({"type": "response.output_text.done", **BASE, "text": "Hello"}, m.AssistantTranscriptDone),
    (
        {
            "type": "response.function_call_arguments.done",
            "event_id": "e",
            "response_id": "resp_1",
            "item_id": "item_f",
            "output_index": 0,
            "call_id": "call_1",
            "name": "get_time",
            "arguments": "{}",
        },
        m.FunctionArgumentsDone,
    ),
    (
        {
            "type": "rate_limits.updated",
            "event_id": "e",
            "rate_limits": [
                {"name": "requests", "limit": 100, "remaining": 99, "reset_seconds": 1.5}
            ],
        },
        m.RateLimitsUpdated,
    ),
    (
        {
            "type": "error",
            "event_id": "e",
            "error": {
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "no active response",
                "param": None,
                "event_id": "evt_vd3",
            },
        },
        m.ServerError,
    ),
]

BETA_FIXTURES: list[tuple[dict[str, Any], type]] = [
    ({"type": "response.audio.delta", **BASE, "delta": B64}, m.AudioDelta),
    ({"type": "response.audio.done", **BASE}, m.AudioDone),
    ({"type": "response.audio_transcript.delta", **BASE, "delta": "x"}, m.AssistantTranscriptDelta),
    (
        {"type": "response.audio_transcript.done", **BASE, "transcript": "x"},
        m.AssistantTranscriptDone,
    ),
    ({"type": "response.text.delta", **BASE, "delta": "x"}, m.AssistantTranscriptDelta),
    ({"type": "response.text.done", **BASE, "text": "x"}, m.AssistantTranscriptDone),
    (
        {
            "type": "conversation.item.created",
            "event_id": "e",
            "previous_item_id": None,
            "item": {
                "id": "item_u",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        },
        m.ItemAdded,
    ),
]


@pytest.mark.parametrize(
    ("fixture", "expected"), GA_FIXTURES, ids=lambda v: v["type"] if isinstance(v, dict) else ""
)
def test_ga_server_events_decode_and_match_the_sdk(fixture: dict[str, Any], expected: type) -> None:
    SERVER.validate_python(fixture)
    event = OpenAICodec().decode(json.dumps(fixture))
    assert isinstance(event, expected)


@pytest.mark.parametrize(
    ("fixture", "expected"), BETA_FIXTURES, ids=lambda v: v["type"] if isinstance(v, dict) else ""
)
def test_beta_server_event_names_are_accepted(fixture: dict[str, Any], expected: type) -> None:
    BETA.validate_python(fixture)
    assert isinstance(OpenAICodec().decode(json.dumps(fixture)), expected)


def test_decoded_fields() -> None:
    codec = OpenAICodec()
    delta = codec.decode(json.dumps(GA_FIXTURES[17][0]))
    assert delta == m.AudioDelta("resp_1", "item_1", 0, PCM)
    done = codec.decode(json.dumps(GA_FIXTURES[15][0]))
    assert done == m.ResponseDone("resp_1", "cancelled", "turn_detected", ())
    session = codec.decode(json.dumps(GA_FIXTURES[0][0]))
    assert isinstance(session, m.SessionStarted) and not session.updated
    assert session.turn_detection == {"type": "server_vad", "silence_duration_ms": 200}
    item = codec.decode(json.dumps(GA_FIXTURES[8][0]))
    assert item == m.ItemAdded("item_u", "message", "user", "hello", "item_u", True)
    limits = codec.decode(json.dumps(GA_FIXTURES[24][0]))
    assert limits == m.RateLimitsUpdated((m.RateLimit("requests", 100, 99, 1.5),))
    error = codec.decode(json.dumps(GA_FIXTURES[25][0]))
    assert error == m.ServerError(
        "invalid_request_error", "response_cancel_not_active", "no active response", None, "evt_vd3"
    )
    beta_session = codec.decode(
        json.dumps(
            {
                "type": "session.created",
                "session": {"id": "s", "turn_detection": {"type": "server_vad"}},
            }
        )
    )
    assert isinstance(beta_session, m.SessionStarted) and beta_session.turn_detection == {
        "type": "server_vad"
    }


def test_completed_function_calls_are_collected_from_response_done() -> None:
    call = {
        "type": "function_call",
        "id": "item_f",
        "call_id": "call_1",
        "name": "get_time",
        "arguments": "{}",
        "status": "completed",
    }
    partial = {**call, "id": "item_g", "status": "incomplete"}
    message = {"type": "message", "id": "item_m", "role": "assistant", "content": []}
    frame = {
        "type": "response.done",
        "event_id": "e",
        "response": {**RESPONSE, "status": "completed", "output": [message, call, partial]},
    }
    SERVER.validate_python(frame)
    done = OpenAICodec().decode(json.dumps(frame))
    assert isinstance(done, m.ResponseDone)
    assert done.function_calls == (m.FunctionCall("item_f", "call_1", "get_time", "{}"),)
    cancelled = {**frame, "response": {**frame["response"], "status": "cancelled"}}
    done = OpenAICodec().decode(json.dumps(cancelled))
    assert isinstance(done, m.ResponseDone) and done.function_calls == ()


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"no_type": 1}', "type is not a string"),
        (
            json.dumps({"type": "response.output_audio.delta", **BASE, "delta": "***"}),
            "audio delta is not valid base64",
        ),
        (
            json.dumps(
                {
                    "type": "response.output_audio.delta",
                    **BASE,
                    "delta": base64.b64encode(b"abc").decode(),
                }
            ),
            "audio delta has an odd byte count",
        ),
        (
            json.dumps(
                {"type": "response.output_audio.delta", **BASE, "delta": "A" * (6 * 1024 * 1024)}
            ),
            "audio delta is absurdly large",
        ),
        (
            json.dumps(
                {"type": "response.output_audio.delta", **BASE, "content_index": "0", "delta": B64}
            ),
            "content_index is not an integer",
        ),
        (
            json.dumps(
                {"type": "response.output_audio.delta", **BASE, "content_index": True, "delta": B64}
            ),
            "content_index is not an integer",
        ),
        (json.dumps({"type": "response.created", "response": []}), "response is not an object"),
        (
            json.dumps({"type": "response.done", "response": {"id": "r", "output": "x"}}),
            "output is not a list",
        ),
        (
            json.dumps({"type": "response.done", "response": {"id": "r", "output": [1]}}),
            "response output item is not an object",
        ),
        (
            json.dumps(
                {
                    "type": "conversation.item.added",
                    "item": {"id": "i", "type": "message", "content": [3]},
                }
            ),
            "content part is not an object",
        ),
        (
            json.dumps({"type": "rate_limits.updated", "rate_limits": ["x"]}),
            "rate limit is not an object",
        ),
        (
            json.dumps(
                {
                    "type": "rate_limits.updated",
                    "rate_limits": [
                        {"name": "r", "limit": 1, "remaining": 1, "reset_seconds": "soon"}
                    ],
                }
            ),
            "reset_seconds is not a number",
        ),
        (
            json.dumps({"type": "response.output_text.delta", **BASE, "delta": "x" * 1_000_001}),
            "delta is absurdly long",
        ),
    ],
)
def test_malformed_frames_are_counted_and_dropped(
    frame: str | bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    codec = OpenAICodec()
    with caplog.at_level(logging.WARNING, "app.session.protocol"):
        assert codec.decode(frame) is None
    assert codec.malformed[reason] == 1
    assert reason in caplog.text


def test_oversized_frame_rejected_before_parsing() -> None:
    codec = OpenAICodec(max_frame_bytes=100)
    assert (
        codec.decode(json.dumps({"type": "input_audio_buffer.cleared", "pad": "x" * 200})) is None
    )
    assert sum(codec.malformed.values()) == 1


def test_repeated_malformed_frames_log_rarely(caplog: pytest.LogCaptureFixture) -> None:
    codec = OpenAICodec()
    with caplog.at_level(logging.WARNING, "app.session.protocol"):
        for _ in range(150):
            codec.decode("{")
    assert codec.malformed["not JSON"] == 150
    assert len(caplog.records) == 2  # the first and the 100th


def test_unknown_events_logged_once_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    codec = OpenAICodec()
    with caplog.at_level(logging.INFO, "app.session.protocol"):
        for _ in range(3):
            assert codec.decode('{"type": "brand.new.event"}') is None
        assert codec.decode('{"type": "response.content_part.added"}') is None
    assert codec.unknown["brand.new.event"] == 3
    assert "response.content_part.added" not in codec.unknown
    assert caplog.text.count("brand.new.event") == 1


ALL_COMMANDS: list[m.ClientCommand] = [
    m.AppendAudio(PCM),
    m.CommitInput(),
    m.ClearInput(),
    m.CreateResponse(),
    m.CreateResponse(instructions="Be brief."),
    m.CancelResponse(),
    m.CancelResponse("resp_1"),
    m.TruncateItem("item_a", 0, 1830),
    m.DeleteItem("item_a"),
    m.AddMessage("user", "hi"),
    m.AddMessage("assistant", "hello", item_id="item_r1"),
    m.AddMessage("system", "note"),
    m.AddFunctionOutput("call_1", '{"ok": true}'),
    m.ConfigureSession(SessionConfig()),
]


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: type(c).__name__)
def test_every_client_event_validates_against_the_sdk(command: m.ClientCommand) -> None:
    payload = json.loads(OpenAICodec().encode(command))
    assert payload["event_id"].startswith("evt_vd")
    _valid_client(payload)


def test_encoded_shapes() -> None:
    codec = OpenAICodec()
    assert codec.payload(m.TruncateItem("item_a", 0, 1830)) == {
        "type": "conversation.item.truncate",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 1830,
        "event_id": "evt_vd1",
    }
    assert codec.payload(m.AppendAudio(PCM))["audio"] == B64
    assert codec.payload(m.CancelResponse("resp_1"))["response_id"] == "resp_1"
    assert codec.payload(m.AddMessage("assistant", "x"))["item"] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "x"}],
    }


CONFIGS = [
    SessionConfig(),
    SessionConfig(
        turn_mode=TurnMode.PUSH_TO_TALK,
        noise_reduction=None,
        transcription=None,
        truncation="disabled",
    ),
    SessionConfig(
        vad=VadKind.SEMANTIC_VAD,
        semantic_vad=SemanticVadParams("high", False, False),
        noise_reduction="far_field",
    ),
    SessionConfig(vad=VadKind.LOCAL, truncation=RetentionRatio(0.7, 5000)),
    SessionConfig(
        server_vad=ServerVadParams(0.8, 200, 700, False, False, 6000),
        transcription=TranscriptionParams("whisper-1", "en", "names: Ada"),
        truncation=RetentionRatio(),
    ),
    SessionConfig(tools_enabled=False),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_session_update_from_config_validates(config: SessionConfig) -> None:
    tool = {
        "type": "function",
        "name": "get_time",
        "description": "time",
        "parameters": {"type": "object", "properties": {}},
    }
    payload = OpenAICodec().payload(m.ConfigureSession(config, (tool,), "Be kind."))
    _valid_client(payload)
    session = payload["session"]
    assert session["type"] == "realtime" and session["output_modalities"] == ["audio"]
    assert session["instructions"] == "Be kind."
    assert session["tools"] == ([tool] if config.tools_enabled else [])


def test_session_update_details() -> None:
    ptt = session_payload(SessionConfig(turn_mode=TurnMode.PUSH_TO_TALK))
    assert ptt["audio"]["input"]["turn_detection"] is None  # type: ignore[index]
    vad = session_payload(SessionConfig(server_vad=ServerVadParams(idle_timeout_ms=5000)))
    detection = vad["audio"]["input"]["turn_detection"]  # type: ignore[index]
    # Pitfall 8: every parameter is sent, never a partial object.
    assert detection == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
        "idle_timeout_ms": 5000,
    }
    ratio = session_payload(SessionConfig(truncation=RetentionRatio(0.5, 900)))
    assert ratio["truncation"] == {
        "type": "retention_ratio",
        "retention_ratio": 0.5,
        "token_limits": {"post_instructions": 900},
    }
    default = session_payload(SessionConfig(instructions="base"))
    assert default["instructions"] == "base"
    assert default["audio"]["input"]["noise_reduction"] == {"type": "near_field"}  # type: ignore[index]
    assert default["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
    }  # type: ignore[index]


def test_optional_fields_default() -> None:
    codec = OpenAICodec()
    delta = codec.decode(
        json.dumps(
            {
                "type": "response.output_audio.delta",
                "response_id": "r",
                "item_id": "i",
                "delta": B64,
            }
        )
    )
    assert delta == m.AudioDelta("r", "i", 0, PCM)
    done = codec.decode(json.dumps({"type": "response.done", "response": {"id": "r"}}))
    assert done == m.ResponseDone("r", "completed", None, ())


def _output_item_done(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "event_id": "event_oid",
        "response_id": "resp_1",
        "output_index": 0,
        "item": item,
    }


def test_completed_function_call_item_is_a_complete_call() -> None:
    fixture = _output_item_done(
        {
            "id": "item_f",
            "object": "realtime.item",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_time",
            "arguments": "{}",
        }
    )
    SERVER.validate_python(fixture)
    event = OpenAICodec().decode(json.dumps(fixture))
    assert event == m.FunctionArgumentsDone("resp_1", "item_f", "call_1", "get_time", "{}")


@pytest.mark.parametrize(
    "item",
    [
        {
            "id": "item_m",
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "hi"}],
        },
        {
            "id": "item_f",
            "object": "realtime.item",
            "type": "function_call",
            "status": "incomplete",
            "call_id": "call_1",
            "name": "get_time",
            "arguments": "{",
        },
    ],
    ids=["message", "incomplete-call"],
)
def test_other_finished_items_carry_nothing(item: dict[str, Any]) -> None:
    codec = OpenAICodec()
    fixture = _output_item_done(item)
    SERVER.validate_python(fixture)
    assert codec.decode(json.dumps(fixture)) is None
    assert not codec.unknown and not codec.malformed
