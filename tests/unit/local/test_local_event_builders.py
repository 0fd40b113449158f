"""Event builders and ids: shapes accepted by the official openai realtime types."""

from __future__ import annotations

import base64

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from app.local import events as ev
from app.local.config import default_session

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
ITEM = {
    "id": "item_1",
    "object": "realtime.item",
    "type": "message",
    "role": "assistant",
    "status": "in_progress",
    "content": [],
}
RESPONSE = {
    "object": "realtime.response",
    "id": "resp_1",
    "status": "in_progress",
    "status_details": None,
    "output": [],
    "conversation_id": "conv_1",
    "output_modalities": ["audio"],
    "max_output_tokens": "inf",
    "metadata": None,
    "usage": None,
}

BUILT = [
    ev.error("bad", code="invalid_value", client_event_id="evt_1", param="type"),
    ev.session_created(default_session("gpt-realtime", {"stt": "x"})),
    ev.session_updated(default_session(None, {})),
    ev.conversation_item_added(ITEM, None),
    ev.conversation_item_done(ITEM, "item_0"),
    ev.conversation_item_retrieved(ITEM),
    ev.conversation_item_deleted("item_1"),
    ev.conversation_item_truncated("item_1", 0, 1500),
    ev.transcription_delta("item_1", 0, "hi"),
    ev.transcription_completed("item_1", 0, "hi", 1.2),
    ev.transcription_failed("item_1", 0, "boom"),
    ev.speech_started(100, "item_1"),
    ev.speech_stopped(900, "item_1"),
    ev.buffer_committed("item_1", None),
    ev.buffer_cleared(),
    ev.rate_limits_updated(),
    ev.response_created(RESPONSE),
    ev.response_done(
        {
            **RESPONSE,
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
        }
    ),
    ev.output_item_added("resp_1", 0, ITEM),
    ev.output_item_done("resp_1", 0, {**ITEM, "status": "completed"}),
    ev.content_part_added("resp_1", "item_1", 0, 0, {"type": "audio"}),
    ev.content_part_done("resp_1", "item_1", 0, 0, {"type": "audio", "transcript": "hi"}),
    ev.audio_delta("resp_1", "item_1", 0, 0, base64.b64encode(b"\0\0").decode()),
    ev.audio_done("resp_1", "item_1", 0, 0),
    ev.transcript_delta("resp_1", "item_1", 0, 0, "hi"),
    ev.transcript_done("resp_1", "item_1", 0, 0, "hi"),
    ev.text_delta("resp_1", "item_1", 0, 0, "hi"),
    ev.text_done("resp_1", "item_1", 0, 0, "hi"),
    ev.arguments_delta("resp_1", "item_2", 0, "call_1", "{"),
    ev.arguments_done("resp_1", "item_2", 0, "call_1", "get_time", "{}"),
]


@pytest.mark.parametrize("event", BUILT, ids=[e["type"] for e in BUILT])
def test_every_builder_validates_against_openai_types(event: dict) -> None:
    parsed = SERVER_EVENT.validate_python(event)
    assert parsed.type == event["type"]
    assert event["event_id"].startswith("event_")


def test_ids_are_prefixed_and_unique() -> None:
    ids = {ev.new_id("item") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("item_") and len(i) == 25 for i in ids)


def test_error_echoes_client_event_id() -> None:
    error = ev.error("nope", code="response_cancel_not_active", client_event_id="evt_9")["error"]
    assert error == {
        "type": "invalid_request_error",
        "code": "response_cancel_not_active",
        "message": "nope",
        "param": None,
        "event_id": "evt_9",
    }
