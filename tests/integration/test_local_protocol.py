"""Protocol conformance of the local engine with a plain websockets client.

Uses the light engines (pocketsphinx + espeak-ng) so it runs in seconds; every event received is
validated against the official openai realtime types by the client helper.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from app.local.models import EngineModels
from app.local.server import LocalEngineServer
from tests.integration.local_engine_client import EngineClient, audio_of, transcript_of

TOOLS = [
    {
        "type": "function",
        "name": "get_time",
        "description": "Current local time",
        "parameters": {"type": "object", "properties": {}},
    },
    {
        "type": "function",
        "name": "set_timer",
        "description": "Start a countdown timer",
        "parameters": {
            "type": "object",
            "properties": {"seconds": {"type": "integer"}, "label": {"type": "string"}},
            "required": ["seconds"],
        },
    },
]

# loads the pocketsphinx model and runs espeak-ng: light, but real engines
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[LocalEngineServer]:
    srv = LocalEngineServer(models=EngineModels(stt="sphinx", tts="espeak-ng")).start()
    assert srv.models.wait(60)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: LocalEngineServer) -> Iterator[EngineClient]:
    with EngineClient(server.url, server.token) as c:
        created = c.recv()
        assert created["type"] == "session.created"
        yield c


def test_session_created_reports_full_session_and_model(server: LocalEngineServer) -> None:
    with EngineClient(server.url, server.token, "?model=gpt-realtime-mini") as c:
        first = c.recv()
    session = first["session"]
    assert first["type"] == "session.created" and first["event_id"].startswith("event_")
    assert session["id"].startswith("sess_") and session["model"] == "gpt-realtime-mini"
    td = session["audio"]["input"]["turn_detection"]
    assert td["type"] == "server_vad" and td["silence_duration_ms"] == 500
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["local_engines"]["stt"].startswith("pocketsphinx")


def test_session_update_merges_key_by_key_and_null_clears(client: EngineClient) -> None:
    client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": "Be brief.",
                "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
            },
        }
    )
    session = client.until("session.updated")[-1]["session"]
    assert session["instructions"] == "Be brief."
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"  # untouched
    assert session["audio"]["output"]["voice"] == "marin"
    client.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
    )
    session = client.until("session.updated")[-1]["session"]
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["instructions"] == "Be brief."


def test_model_change_is_refused_with_echoed_event_id(client: EngineClient) -> None:
    client.send(
        {
            "type": "session.update",
            "event_id": "evt_model",
            "session": {"type": "realtime", "model": "gpt-4o-realtime-preview"},
        }
    )
    error = client.until("error")[-1]["error"]
    assert error["event_id"] == "evt_model" and error["param"] == "session.model"
    client.send(
        {"type": "session.update", "event_id": "evt_notype", "session": {"instructions": "x"}}
    )
    error = client.until("error")[-1]["error"]
    assert error["code"] == "missing_required_parameter" and error["event_id"] == "evt_notype"


def test_text_turn_full_lifecycle_with_consistent_ids(client: EngineClient) -> None:
    client.ptt_session()
    client.say_text("What is twelve times seven?")
    added = client.until("conversation.item.done")
    user_id = added[-1]["item"]["id"]
    client.send({"type": "response.create"})
    events = client.until("response.done")
    kinds = [e["type"] for e in events if not e["type"].endswith(".delta")]
    assert kinds == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    response_id = events[0]["response"]["id"]
    item = events[2]["item"]
    assert response_id.startswith("resp_") and item["id"].startswith("item_")
    assert events[3]["previous_item_id"] == user_id
    for e in events:
        if "response_id" in e:
            assert e["response_id"] == response_id
        if "item_id" in e:
            assert e["item_id"] == item["id"] and e["output_index"] == 0
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["output"][0]["status"] == "completed"
    assert "84" in transcript_of(events)
    deltas = [
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    ]
    assert deltas and all(20 * 48 <= len(d) <= 100 * 48 for d in deltas)
    assert all(len(d) % 2 == 0 for d in deltas)
    transcript_deltas = "".join(
        e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
    )
    assert transcript_deltas == transcript_of(events)


def test_second_response_create_is_refused_while_one_is_active(client: EngineClient) -> None:
    client.ptt_session()
    client.say_text("help")
    client.until("conversation.item.done")
    client.send({"type": "response.create"})
    client.send({"type": "response.create", "event_id": "evt_second"})
    events = client.until("response.done")
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["conversation_already_has_active_response"]
    assert errors[0]["event_id"] == "evt_second"
    assert events[-1]["response"]["status"] == "completed"


def test_cancel_stops_audio_and_always_sends_done_events(client: EngineClient) -> None:
    client.ptt_session()
    client.say_text("what can you do")
    client.until("conversation.item.done")
    client.send({"type": "response.create"})
    first = client.until("response.output_audio.delta")
    client.send({"type": "response.cancel", "event_id": "evt_cancel"})
    events = first + client.until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    kinds = [e["type"] for e in events]
    for closing in (
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert closing in kinds
    assert done["output"][0]["status"] == "incomplete"
    assert not [e for e in client.quiet_for(0.3) if e["type"] == "response.output_audio.delta"]
    client.send({"type": "response.cancel", "event_id": "evt_again"})
    error = client.until("error")[-1]["error"]
    assert error["code"] == "response_cancel_not_active" and error["event_id"] == "evt_again"


def test_truncate_validates_produced_audio_and_drops_unheard_text(client: EngineClient) -> None:
    client.ptt_session()
    client.say_text("help")
    client.until("conversation.item.done")
    client.send({"type": "response.create"})
    events = client.until("response.done")
    item_id = events[-1]["response"]["output"][0]["id"]
    produced_ms = len(audio_of(events)) // 48
    client.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "evt_far",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": produced_ms + 500,
        }
    )
    error = client.until("error")[-1]["error"]
    assert error["event_id"] == "evt_far" and "shorter" in error["message"]
    client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 1000,
        }
    )
    truncated = client.until("conversation.item.truncated")[-1]
    assert truncated["audio_end_ms"] == 1000 and truncated["item_id"] == item_id
    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    item = client.until("conversation.item.retrieved")[-1]["item"]
    part = item["content"][0]
    assert len(base64.b64decode(part["audio"])) == 1000 * 48
    full = transcript_of(events)
    assert 0 < len(part["transcript"]) < len(full) and full.startswith(part["transcript"])


def test_buffer_errors_and_unknown_events_echo_event_id(client: EngineClient) -> None:
    client.ptt_session()
    client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
    error = client.until("error")[-1]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "evt_commit"
    client.send({"type": "input_audio_buffer.clear"})
    client.until("input_audio_buffer.cleared")
    client.send({"type": "no.such.event", "event_id": "evt_unknown"})
    error = client.until("error")[-1]["error"]
    assert error["code"] == "invalid_value" and error["event_id"] == "evt_unknown"
    client.send("{not json")
    assert client.until("error")[-1]["error"]["code"] == "invalid_json"


def test_item_create_insert_delete_retrieve(client: EngineClient) -> None:
    client.say_text("first")
    first = client.until("conversation.item.done")[-1]["item"]["id"]
    client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "Be nice."}],
            },
        }
    )
    added = client.until("conversation.item.added")[-1]
    assert added["previous_item_id"] is None and added["item"]["object"] == "realtime.item"
    client.send(
        {
            "type": "conversation.item.create",
            "event_id": "evt_prev",
            "previous_item_id": "item_nope",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x"}],
            },
        }
    )
    assert client.until("error")[-1]["error"]["event_id"] == "evt_prev"
    client.send(
        {
            "type": "conversation.item.create",
            "event_id": "evt_bad_role",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_audio", "transcript": "x"}],
            },
        }
    )
    assert client.until("error")[-1]["error"]["event_id"] == "evt_bad_role"
    client.send({"type": "conversation.item.retrieve", "item_id": first})
    assert client.until("conversation.item.retrieved")[-1]["item"]["id"] == first
    client.send({"type": "conversation.item.delete", "item_id": first})
    assert client.until("conversation.item.deleted")[-1]["item_id"] == first
    client.send({"type": "conversation.item.delete", "item_id": first, "event_id": "evt_gone"})
    assert client.until("error")[-1]["error"]["event_id"] == "evt_gone"


def test_tools_are_called_with_argument_deltas_and_output_is_spoken(client: EngineClient) -> None:
    client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": TOOLS,
                "audio": {"input": {"turn_detection": None}},
            },
        }
    )
    client.until("session.updated")
    client.say_text("Set a pasta timer for five minutes")
    client.send({"type": "response.create"})
    events = client.until("response.done")
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["name"] == "set_timer"
    assert item["call_id"].startswith("call_") and item["status"] == "completed"
    deltas = "".join(
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    )
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert deltas == done["arguments"] == '{"seconds": 300, "label": "pasta"}'
    assert len([e for e in events if e["type"] == "response.function_call_arguments.delta"]) > 1
    client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": item["call_id"],
                "output": '{"message": "Pasta timer set for 5 minutes"}',
            },
        }
    )
    client.send({"type": "response.create"})
    events = client.until("response.done")
    assert transcript_of(events) == "Pasta timer set for 5 minutes."
    assert audio_of(events)


def test_text_modality_and_out_of_band_response(client: EngineClient) -> None:
    client.ptt_session(output_modalities=["text"])
    client.say_text("what is 3 plus 4")
    client.until("conversation.item.done")
    client.send(
        {"type": "response.create", "response": {"conversation": "none", "metadata": {"k": "v"}}}
    )
    events = client.until("response.done")
    assert not [e for e in events if e["type"].startswith("conversation.item")]
    assert not [e for e in events if "audio" in e["type"]]
    text = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    assert text == "That's 7."
    response = events[-1]["response"]
    assert response["conversation_id"] is None and response["metadata"] == {"k": "v"}


def test_max_output_tokens_gives_incomplete(client: EngineClient) -> None:
    client.ptt_session(output_modalities=["text"])
    client.say_text("help")
    client.send({"type": "response.create", "response": {"max_output_tokens": 3}})
    response = client.until("response.done")[-1]["response"]
    assert response["status"] == "incomplete"
    assert response["status_details"]["reason"] == "max_output_tokens"


def test_committed_audio_is_transcribed_when_asked(client: EngineClient, tmp_path) -> None:
    import subprocess

    from app.local.tts import parse_wav, to_pcm24k

    wav = subprocess.run(
        ["flite", "-voice", "slt", "-t", "what time is it", "-o", "/dev/stdout"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    pcm = to_pcm24k(*parse_wav(wav))
    client.ptt_session(
        audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
    )
    client.append_pcm(pcm)
    client.send({"type": "input_audio_buffer.commit"})
    committed = client.until("input_audio_buffer.committed")[-1]
    done = client.until("conversation.item.input_audio_transcription.completed")[-1]
    assert done["item_id"] == committed["item_id"]
    assert "time" in done["transcript"].lower()
    assert done["usage"]["type"] == "duration"
    assert math.isclose(done["usage"]["seconds"], len(pcm) / 48000, abs_tol=0.01)


def test_wrong_or_missing_token_gets_401_and_is_not_logged(
    server: LocalEngineServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.local.server")
    for headers in ({"Authorization": "Bearer wrong-token-123"}, {}):
        with (
            pytest.raises(InvalidStatus) as info,
            connect(server.url, additional_headers=headers, open_timeout=10),
        ):
            pass
        assert info.value.response.status_code == 401
    assert "rejected" in caplog.text
    assert "wrong-token-123" not in caplog.text and server.token not in caplog.text
    assert server.token not in repr(server)


def test_offline_timer_is_announced_when_due(client: EngineClient) -> None:
    client.ptt_session()
    client.say_text("set a timer for 2 seconds")
    client.send({"type": "response.create"})
    assert "timer for 2 seconds starts now" in transcript_of(client.until("response.done"))
    events = client.until("response.done", timeout=15)
    assert transcript_of(events) == "Your 2 seconds timer is done."
    assert events[-1]["response"]["status"] == "completed"
