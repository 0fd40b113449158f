"""Malformed input never kills the server or another session; sessions are independent."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from app.local.models import EngineModels
from app.local.server import LocalEngineServer
from tests.integration.local_engine_client import EngineClient, transcript_of

MALFORMED: list[str | dict] = [
    "{not json",
    "[]",
    "42",
    "null",
    json.dumps({"no_type": True}),
    {"type": 17},
    {"type": "unknown.event", "event_id": "e"},
    {"type": "session.update"},
    {"type": "session.update", "session": "x"},
    {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "bogus"}}}},
    },
    {"type": "session.update", "session": {"type": "realtime", "tools": "nope"}},
    {"type": "input_audio_buffer.append"},
    {"type": "input_audio_buffer.append", "audio": 5},
    {"type": "input_audio_buffer.append", "audio": "!!!not base64!!!"},
    {"type": "conversation.item.create"},
    {"type": "conversation.item.create", "item": []},
    {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "robot", "content": []},
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": "%%%"}],
        },
    },
    {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": 3}},
    {"type": "conversation.item.truncate", "item_id": "x", "content_index": "0", "audio_end_ms": 1},
    {"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": -5},
    {"type": "conversation.item.delete", "item_id": ["x"]},
    {"type": "conversation.item.retrieve"},
    {"type": "response.create", "response": "x"},
    {"type": "response.create", "response": {"output_modalities": ["audio", "text"]}},
    {
        "type": "response.create",
        "response": {"input": [{"type": "item_reference", "id": "missing"}]},
    },
    {"type": "response.cancel", "response_id": 7},
    {"type": "output_audio_buffer.clear"},
]

# loads the pocketsphinx model and runs espeak-ng: light, but real engines
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[LocalEngineServer]:
    srv = LocalEngineServer(models=EngineModels(stt="sphinx", tts="espeak-ng")).start()
    assert srv.models.wait(60)
    yield srv
    srv.stop()


def test_malformed_input_gets_errors_and_leaves_both_sessions_working(
    server: LocalEngineServer,
) -> None:
    with (
        EngineClient(server.url, server.token) as bad,
        EngineClient(server.url, server.token) as good,
    ):
        bad.until("session.created")
        good.until("session.created")
        good.ptt_session()
        for i, frame in enumerate(MALFORMED):
            if isinstance(frame, dict):
                frame = json.dumps({**frame, "event_id": f"evt_{i}"})
            bad.send(frame)
            event = bad.until("error", timeout=10)[-1]
            assert event["error"]["message"], frame
            assert event["error"]["type"] == "invalid_request_error", frame
        bad.send(b"\xff\xfe binary garbage")
        assert bad.until("error")[-1]["error"]["code"] == "invalid_json"
        # the abused session itself still works, and so does the other one
        for c in (bad, good):
            c.ptt_session()
            c.say_text("what is 2 plus 2")
            c.send({"type": "response.create"})
            assert transcript_of(c.until("response.done")) == "That's 4."


def test_huge_append_is_refused_without_closing_the_socket(server: LocalEngineServer) -> None:
    with EngineClient(server.url, server.token) as c:
        c.until("session.created")
        c.ptt_session()
        huge = base64.b64encode(b"\0" * (16 * 1024 * 1024)).decode()
        c.send({"type": "input_audio_buffer.append", "audio": huge, "event_id": "evt_huge"})
        error = c.until("error")[-1]["error"]
        assert error["event_id"] == "evt_huge" and "15 MiB" in error["message"]
        c.say_text("hello")
        c.send({"type": "response.create"})
        assert c.until("response.done")[-1]["response"]["status"] == "completed"


def test_frame_over_the_limit_closes_only_that_client(server: LocalEngineServer) -> None:
    with EngineClient(server.url, server.token) as other:
        other.until("session.created")
        with EngineClient(server.url, server.token) as abuser:
            abuser.until("session.created")
            abuser.send("x" * (33 * 1024 * 1024))
            with pytest.raises(Exception):  # noqa: B017 - any close/timeout shows the socket is gone
                abuser.until("never", timeout=10)
        other.ptt_session()
        other.say_text("what is 5 times 5")
        other.send({"type": "response.create"})
        assert transcript_of(other.until("response.done")) == "That's 25."


def test_sessions_are_isolated(server: LocalEngineServer) -> None:
    with EngineClient(server.url, server.token) as a, EngineClient(server.url, server.token) as b:
        sa = a.until("session.created")[-1]["session"]["id"]
        sb = b.until("session.created")[-1]["session"]["id"]
        assert sa != sb
        a.ptt_session()
        b.ptt_session()
        a.say_text("remember that my locker is 12")
        a.send({"type": "response.create"})
        a.until("response.done")
        b.say_text("what is my locker")
        b.send({"type": "response.create"})
        assert "haven't asked me to remember" in transcript_of(b.until("response.done"))
        a.say_text("what is my locker")
        a.send({"type": "response.create"})
        assert transcript_of(a.until("response.done")) == "You told me that your locker is 12."
