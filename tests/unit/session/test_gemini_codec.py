"""Gemini Live codec: setup, every server frame, every client frame, malformed input, pitfalls.

Client frames are validated against the ``google-genai`` package's pydantic types (which forbid
unknown keys); server fixtures are validated against ``LiveServerMessage`` so they are real shapes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.genai import types

from app.session import messages as m
from app.session.config import (
    ServerVadParams,
    SessionConfig,
    TranscriptionParams,
    TurnMode,
    VadKind,
)
from app.session.errors import ErrorCategory
from app.session.protocol.base import codec_for
from app.session.protocol.gemini import GeminiCodec, parse_duration
from app.session.protocol.gemini_setup import gemini_url, setup_message, voice_name
from app.session.protocol.openai import OpenAICodec

PCM = b"\x01\x00\x02\x00\x03\x00"
B64 = base64.b64encode(PCM).decode()
HANDS_FREE = SessionConfig(
    provider="gemini", model="gemini-2.5-flash-native-audio-preview-12-2025", voice="Puck",
    input_sample_rate=16000,
)  # fmt: skip
PTT = SessionConfig(
    provider="gemini", model="gemini-2.5-flash-native-audio-preview-12-2025",
    turn_mode=TurnMode.PUSH_TO_TALK, input_sample_rate=16000,
)  # fmt: skip
GEMINI_3 = SessionConfig(provider="gemini", model="models/gemini-3.1-flash-live-preview")
TOOLS: tuple[dict[str, object], ...] = (
    {
        "type": "function",
        "name": "convert_units",
        "description": "Convert a value between units.",
        "parameters": {
            "type": "object",
            "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
            "required": ["value", "unit"],
            "additionalProperties": False,
        },
    },
    {"type": "function", "name": "get_time", "description": "The time.", "parameters": {}},
)


def valid_client(frame: dict[str, Any]) -> None:
    """A client frame holds exactly one message and every key is one the SDK declares."""
    assert len(frame) == 1, frame
    if "setup" not in frame:
        types.LiveClientMessage.model_validate(frame)
        return
    setup = dict(frame["setup"])
    realtime = setup.pop("realtimeInputConfig")
    types.RealtimeInputConfig.model_validate(realtime)
    types.LiveClientSetup.model_validate(setup)
    flat = {k: v for k, v in setup.items() if k not in ("model", "generationConfig")}
    types.LiveConnectConfig.model_validate(
        {**flat, **setup["generationConfig"], "realtimeInputConfig": realtime}
    )


def server(frame: dict[str, Any]) -> str:
    """A server fixture, checked against the SDK's ``LiveServerMessage`` first."""
    types.LiveServerMessage.model_validate(frame)
    return json.dumps(frame)


def audio(data: str = B64, rate: int = 24000) -> dict[str, Any]:
    part = {"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": data}}
    return {"serverContent": {"modelTurn": {"parts": [part]}}}


def started(config: SessionConfig = HANDS_FREE) -> GeminiCodec:
    codec = GeminiCodec(config)
    codec.handshake(m.ConfigureSession(config), [])
    assert codec.decode_all(server({"setupComplete": {}})) == [m.SessionStarted("", False, None)]
    return codec


def kinds(events: list[m.ServerEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


# ------------------------------------------------------------------------------ setup


def test_setup_hands_free_is_valid_and_complete() -> None:
    frame = setup_message(HANDS_FREE, TOOLS, "Be brief.\n\nFacts: likes tea")
    valid_client(frame)
    setup = frame["setup"]
    assert setup["model"] == "models/gemini-2.5-flash-native-audio-preview-12-2025"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]  # pitfall 16: not TEXT
    voice = setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]
    assert voice == {"voiceName": "Puck"}
    assert setup["systemInstruction"] == {"parts": [{"text": "Be brief.\n\nFacts: likes tea"}]}
    detection = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert detection["disabled"] is False and detection["silenceDurationMs"] == 500
    assert detection["prefixPaddingMs"] == 300
    assert setup["realtimeInputConfig"]["activityHandling"] == "START_OF_ACTIVITY_INTERRUPTS"
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    assert setup["contextWindowCompression"] == {"slidingWindow": {}}
    assert setup["sessionResumption"] == {}
    declarations = setup["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["convert_units", "get_time"]
    assert "additionalProperties" not in declarations[0]["parameters"]
    assert "parameters" not in declarations[1]  # no properties: no schema at all
    assert "historyConfig" not in setup


def test_setup_push_to_talk_disables_server_detection() -> None:
    frame = setup_message(PTT)
    valid_client(frame)
    realtime = frame["setup"]["realtimeInputConfig"]
    assert realtime["automaticActivityDetection"] == {"disabled": True}
    assert realtime["activityHandling"] == "START_OF_ACTIVITY_INTERRUPTS"
    local = SessionConfig(provider="gemini", vad=VadKind.LOCAL)
    assert setup_message(local)["setup"]["realtimeInputConfig"] == realtime


def test_setup_options_map_from_the_session_config() -> None:
    config = SessionConfig(
        provider="gemini",
        model="gemini-x",
        voice="marin",  # an OpenAI voice: falls back to a Gemini one
        server_vad=ServerVadParams(threshold=0.8, interrupt_response=False),
        transcription=None,
        tools_enabled=False,
        instructions="",
    )
    frame = setup_message(config, TOOLS)
    valid_client(frame)
    setup = frame["setup"]
    detection = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert detection["startOfSpeechSensitivity"] == "START_SENSITIVITY_LOW"
    assert setup["realtimeInputConfig"]["activityHandling"] == "NO_INTERRUPTION"
    assert "inputAudioTranscription" not in setup and "tools" not in setup
    assert "systemInstruction" not in setup
    assert voice_name("marin") == "Kore" and voice_name("charon") == "Charon"


def test_setup_resumes_with_the_newest_resumable_handle() -> None:
    codec = started()
    codec.decode_all(server({"sessionResumptionUpdate": {"newHandle": "h1", "resumable": True}}))
    codec.decode_all(server({"sessionResumptionUpdate": {"newHandle": "", "resumable": False}}))
    assert codec.resumes
    frame = codec.handshake(m.ConfigureSession(HANDS_FREE), [])[0]
    valid_client(frame)
    assert frame["setup"]["sessionResumption"] == {"handle": "h1"}


def test_seed_history_after_setup_complete() -> None:
    seed = [
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "my name is Ada"}]}},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hello Ada"}]}},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "system",
         "content": [{"type": "input_text", "text": "skipped"}]}},
    ]  # fmt: skip
    codec = GeminiCodec(GEMINI_3)
    setup = codec.handshake(m.ConfigureSession(GEMINI_3), seed)[0]
    valid_client(setup)
    assert setup["setup"]["historyConfig"] == {"initialHistoryInClientContent": True}
    [frame] = codec.after_start(m.ConfigureSession(GEMINI_3), seed)
    valid_client(frame)
    assert frame["clientContent"]["turns"] == [
        {"role": "user", "parts": [{"text": "my name is Ada"}]},
        {"role": "model", "parts": [{"text": "Hello Ada"}]},
    ]
    assert frame["clientContent"]["turnComplete"] is False
    assert codec.after_start(m.ConfigureSession(GEMINI_3), []) == []


def test_url_headers_and_codec_choice() -> None:
    config = SessionConfig(provider="gemini", base_url="https://generativelanguage.googleapis.com")
    assert gemini_url(config) == (
        "wss://generativelanguage.googleapis.com/ws/"
        "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    )
    assert gemini_url(SessionConfig(url="ws://127.0.0.1:1/x")) == "ws://127.0.0.1:1/x"
    codec = codec_for(config)
    assert isinstance(codec, GeminiCodec)
    assert codec.headers(config, "AIzaSECRET") == {"x-goog-api-key": "AIzaSECRET"}
    assert codec.headers(config, None) == {}
    assert isinstance(codec_for(SessionConfig(provider="openai")), OpenAICodec)


# ------------------------------------------------------------------------------ client frames


def test_hands_free_audio_is_16khz_with_no_activity_markers() -> None:
    codec = started()
    frames = codec.payloads(m.AppendAudio(PCM))
    for frame in frames:
        valid_client(frame)
    assert frames == [
        {"realtimeInput": {"audio": {"data": B64, "mimeType": "audio/pcm;rate=16000"}}}
    ]
    assert codec.payloads(m.CommitInput()) == []
    assert codec.event_type(frames[0]) == "realtimeInput.audio"


def test_push_to_talk_brackets_audio_with_activity_start_and_end() -> None:
    codec = started(PTT)
    assert codec.payloads(m.ClearInput()) == []
    first = codec.payloads(m.AppendAudio(PCM))
    second = codec.payloads(m.AppendAudio(PCM))
    end = codec.payloads(m.CommitInput())
    for frame in first + second + end:
        valid_client(frame)
    assert [codec.event_type(f) for f in first] == [
        "realtimeInput.activityStart",
        "realtimeInput.audio",
    ]
    assert [codec.event_type(f) for f in second] == ["realtimeInput.audio"]
    assert end == [{"realtimeInput": {"activityEnd": {}}}]
    assert codec.payloads(m.CommitInput()) == []  # nothing open: nothing to end


def test_commands_gemini_has_no_message_for_produce_no_frame() -> None:
    codec = started()
    for command in (
        m.ConfigureSession(HANDS_FREE),
        m.CreateResponse(),
        m.CancelResponse("gem_resp_1"),
        m.TruncateItem("gem_item_1", 0, 500),
        m.DeleteItem("gem_user_1"),
        m.ClearInput(),
    ):
        assert codec.payloads(command) == [], command


def test_text_turn_and_repair_note_on_2_5() -> None:
    codec = started()
    [text] = codec.payloads(m.AddMessage("user", "what time is it"))
    [note] = codec.payloads(m.AddMessage("system", 'They heard only: "Once upon"'))
    for frame in (text, note):
        valid_client(frame)
    assert text["clientContent"] == {
        "turns": [{"role": "user", "parts": [{"text": "what time is it"}]}],
        "turnComplete": True,
    }
    assert note["clientContent"]["turnComplete"] is False  # context only, no answer


def test_pitfall_19_gemini_3_never_gets_mid_session_client_content() -> None:
    codec = started(GEMINI_3)
    [text] = codec.payloads(m.AddMessage("user", "hi"))
    valid_client(text)
    assert text == {"realtimeInput": {"text": "hi"}}
    assert codec.payloads(m.AddMessage("system", "note")) == []


def test_tool_response_carries_id_name_and_output_or_error() -> None:
    codec = started()
    call = {"toolCall": {"functionCalls": [{"id": "fc_1", "name": "get_time", "args": {}}]}}
    codec.decode_all(server(call))
    [ok] = codec.payloads(m.AddFunctionOutput("fc_1", '{"time": "12:00"}'))
    [plain] = codec.payloads(m.AddFunctionOutput("fc_1", "12:00"))
    [cancelled] = codec.payloads(
        m.AddFunctionOutput("fc_1", '{"status": "cancelled", "reason": "user interrupted"}')
    )
    for frame in (ok, plain, cancelled):
        valid_client(frame)
    assert ok["toolResponse"]["functionResponses"] == [
        {"id": "fc_1", "name": "get_time", "response": {"output": {"time": "12:00"}}}
    ]
    assert plain["toolResponse"]["functionResponses"][0]["response"] == {"output": "12:00"}
    assert "error" in cancelled["toolResponse"]["functionResponses"][0]["response"]
    assert codec.event_type(ok) == "toolResponse"


# ------------------------------------------------------------------------------ server frames


def test_hands_free_turn_maps_to_the_openai_shaped_events() -> None:
    codec = started()
    user = codec.decode_all(server({"serverContent": {"inputTranscription": {"text": "what"}}}))
    assert kinds(user) == ["UserTranscriptDelta"]
    first = codec.decode_all(server(audio()))
    assert kinds(first) == ["ResponseCreated", "OutputItemAdded", "AudioDelta"]
    rid = first[0].response_id  # type: ignore[union-attr]
    delta = first[2]
    assert isinstance(delta, m.AudioDelta) and delta.pcm == PCM and delta.response_id == rid
    text = codec.decode_all(server({"serverContent": {"outputTranscription": {"text": "It is"}}}))
    assert text == [m.AssistantTranscriptDelta(rid, delta.item_id, "It is")]
    done = codec.decode_all(server({"serverContent": {"generationComplete": True}}))
    assert kinds(done) == ["AudioDone", "AssistantTranscriptDone", "ItemAdded", "ResponseDone"]
    assert done[-1] == m.ResponseDone(rid, "completed", None, ())
    usage = {"promptTokenCount": 5, "responseTokenCount": 3, "totalTokenCount": 8}
    end = codec.decode_all(
        server({"serverContent": {"turnComplete": True}, "usageMetadata": usage})
    )
    assert end == [
        m.UserTranscriptDone(user[0].item_id, "what"),  # type: ignore[union-attr]
        m.ItemAdded(user[0].item_id, "message", "user", "what", None, True),  # type: ignore[union-attr]
    ]
    second = codec.decode_all(server(audio()))
    assert isinstance(second[0], m.ResponseCreated) and second[0].response_id != rid


def test_multi_part_frame_and_binary_frames_are_read_whole() -> None:
    codec = started()
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": B64}}
    frame = {
        "serverContent": {
            "modelTurn": {"parts": [part, {"text": "thinking", "thought": True}, part]},
            "outputTranscription": {"text": "Hi"},
            "inputTranscription": {"text": "hey", "finished": True},
        }
    }
    events = codec.decode_all(server(frame).encode())
    assert kinds(events) == [
        "UserTranscriptDelta", "UserTranscriptDone", "ItemAdded",
        "ResponseCreated", "OutputItemAdded", "AudioDelta", "AudioDelta",
        "AssistantTranscriptDelta",
    ]  # fmt: skip


def test_server_interruption_is_a_speech_start_then_a_cancelled_done() -> None:
    codec = started()
    created = codec.decode_all(server(audio()))[0]
    assert isinstance(created, m.ResponseCreated)
    cut = codec.decode_all(server({"serverContent": {"interrupted": True}}))
    assert kinds(cut) == ["UserSpeechStarted"] and cut[0].audio_start_ms < 0  # type: ignore[union-attr]
    late = codec.decode_all(server(audio()))
    assert late == []  # audio of the interrupted generation is not a new response
    done = codec.decode_all(server({"serverContent": {"turnComplete": True}}))
    assert done[-1] == m.ResponseDone(created.response_id, "cancelled", "turn_detected", ())
    nxt = codec.decode_all(server(audio()))
    assert kinds(nxt)[:2] == ["UserSpeechStopped", "ResponseCreated"]
    assert nxt[0].item_id == cut[0].item_id  # type: ignore[union-attr]


def test_pitfall_13_interrupted_alone_starts_the_barge_in() -> None:
    codec = started()
    codec.decode_all(server(audio()))
    events = codec.decode_all(server({"serverContent": {"interrupted": True}}))
    assert any(isinstance(e, m.UserSpeechStarted) for e in events)  # no transcript needed


def test_pitfall_12_interrupted_with_detection_disabled_is_no_speech_start() -> None:
    codec = started(PTT)
    created = codec.decode_all(server(audio()))[0]
    codec.payloads(m.AppendAudio(PCM))  # the PTT press: activityStart cuts the generation
    assert codec.decode_all(server({"serverContent": {"interrupted": True}})) == []
    done = codec.decode_all(server({"serverContent": {"turnComplete": True}}))
    assert done[-1] == m.ResponseDone(
        created.response_id,  # type: ignore[union-attr]
        "cancelled",
        "client_cancelled",
        (),
    )


def test_interrupted_after_generation_complete_and_with_nothing_active() -> None:
    codec = started()
    codec.decode_all(server(audio()))
    codec.decode_all(server({"serverContent": {"generationComplete": True}}))
    tail = codec.decode_all(server({"serverContent": {"interrupted": True}}))
    assert kinds(tail) == ["UserSpeechStarted"]  # the tail is still playing
    assert codec.decode_all(server({"serverContent": {"turnComplete": True}})) == []


def test_own_client_content_cut_is_not_taken_for_user_speech() -> None:
    codec = started()
    codec.decode_all(server(audio()))
    codec.payloads(m.AddMessage("system", "They heard only: x"))
    assert codec.decode_all(server({"serverContent": {"interrupted": True}})) == []


def test_empty_turn_answers_a_requested_response() -> None:
    codec = started(PTT)
    assert codec.decode_all(server({"serverContent": {"turnComplete": True}})) == []
    codec.payloads(m.CreateResponse())
    events = codec.decode_all(server({"serverContent": {"turnComplete": True}}))
    assert kinds(events) == ["ResponseCreated", "OutputItemAdded", "ResponseDone"]


def test_pitfall_19_empty_server_content_does_not_drop_the_first_audio() -> None:
    codec = started(GEMINI_3)
    assert codec.decode_all(server({"serverContent": {}})) == []
    assert kinds(codec.decode_all(server(audio())))[-1] == "AudioDelta"


def test_tool_call_closes_the_response_with_its_calls() -> None:
    codec = started()
    frame = {
        "toolCall": {
            "functionCalls": [
                {"id": "fc_1", "name": "convert_units", "args": {"value": 3, "unit": "km"}},
                {"id": "fc_2", "name": "get_time"},
            ]
        }
    }
    events = codec.decode_all(server(frame))
    assert kinds(events) == [
        "ResponseCreated", "OutputItemAdded", "FunctionArgumentsDone", "FunctionArgumentsDone",
        "ResponseDone",
    ]  # fmt: skip
    first = events[2]
    assert isinstance(first, m.FunctionArgumentsDone)
    assert (first.call_id, first.name, json.loads(first.arguments)) == (
        "fc_1", "convert_units", {"value": 3, "unit": "km"},
    )  # fmt: skip
    done = events[-1]
    assert isinstance(done, m.ResponseDone) and [c.call_id for c in done.function_calls] == [
        "fc_1",
        "fc_2",
    ]
    assert codec.decode_all(server({"serverContent": {"turnComplete": True}})) == []
    follow_up = codec.decode_all(server(audio()))
    assert isinstance(follow_up[0], m.ResponseCreated)


def test_tool_call_cancellation_withdraws_the_calls_and_their_answers() -> None:
    codec = started()
    codec.decode_all(server({"toolCall": {"functionCalls": [{"id": "fc_9", "name": "get_time"}]}}))
    events = codec.decode_all(server({"toolCallCancellation": {"ids": ["fc_9"]}}))
    assert events == [m.FunctionCallsCancelled(("fc_9",))]
    assert codec.payloads(m.AddFunctionOutput("fc_9", "late")) == []


def test_go_away_and_durations() -> None:
    codec = started()
    assert codec.decode_all(server({"goAway": {"timeLeft": "50s"}})) == [m.SessionEnding(50.0)]
    assert codec.decode_all(json.dumps({"goAway": {}})) == [m.SessionEnding(None)]
    assert parse_duration("1.5s") == 1.5 and parse_duration("soon") is None


def test_pitfall_15_voice_activity_and_usage_are_ignored_not_unknown() -> None:
    codec = started()
    for frame in (
        {"usageMetadata": {"totalTokenCount": 3}},
        {"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}},
    ):
        assert codec.decode_all(json.dumps(frame)) == []
    assert not codec.unknown and not codec.malformed
    assert codec.decode_all('{"brandNewMessage": {}}') == []
    assert codec.unknown["brandNewMessage"] == 1


def test_snake_case_keys_are_accepted() -> None:
    codec = GeminiCodec(HANDS_FREE)
    assert kinds(codec.decode_all('{"setup_complete": {}}')) == ["SessionStarted"]
    frame = {"server_content": {"model_turn": {"parts": [{"inline_data": {"data": B64}}]}}}
    assert kinds(codec.decode_all(json.dumps(frame)))[-1] == "AudioDelta"


def test_error_frame_is_an_in_band_server_error() -> None:
    codec = started()
    frame = {
        "error": {
            "code": 401,
            "message": "bad key AIzaSyA1234567890abcdef",
            "status": "UNAUTHENTICATED",
        }
    }
    [error] = codec.decode_all(json.dumps(frame))
    assert isinstance(error, m.ServerError) and error.kind == "authentication_error"
    assert "AIzaSy" not in error.message


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1]", "not a JSON object"),
        (json.dumps(audio("%%%notbase64")), "audio part is not valid base64"),
        (json.dumps(audio(base64.b64encode(b"\x01").decode())), "odd byte count"),
        (json.dumps(audio(B64, rate=16000)), "unexpected rate"),
        ('{"serverContent": []}', "serverContent is not an object"),
        ('{"serverContent": {"turnComplete": "yes"}}', "turnComplete is not a boolean"),
        ('{"serverContent": {"outputTranscription": {"text": 5}}}', "text is not a string"),
        ('{"toolCall": {"functionCalls": [{"id": "x"}]}}', "without a name"),
        ('{"toolCall": {"functionCalls": [{"name": "f", "args": [1]}]}}', "args is not an object"),
        ('{"toolCallCancellation": {"ids": [1]}}', "ids is not a list of strings"),
        ('{"serverContent": {"modelTurn": {"parts": [1]}}}', "parts is not a list of objects"),
    ],
)
def test_malformed_frames_are_counted_never_raised(frame: str | bytes, reason: str) -> None:
    codec = started()
    codec.decode_all(server(audio()))
    assert codec.decode_all(frame) == []
    assert any(reason in key for key in codec.malformed), codec.malformed
    # The turn state survived: the next frame continues the same response.
    assert kinds(codec.decode_all(server(audio()))) == ["AudioDelta"]


def test_oversized_frame_is_rejected() -> None:
    codec = GeminiCodec(HANDS_FREE, max_frame_bytes=100)
    assert codec.decode_all(json.dumps(audio("A" * 200))) == []
    assert sum(codec.malformed.values()) == 1


def test_close_codes_classify_auth_and_drop_a_refused_handle() -> None:
    codec = started()
    codec.decode_all(server({"sessionResumptionUpdate": {"newHandle": "h", "resumable": True}}))
    auth = codec.close_failure(
        1007, "API key not valid. Please pass a valid API key. AIzaSyQQQQQQQQQQQQ"
    )
    assert auth.category is ErrorCategory.AUTHENTICATION and "AIzaSy" not in auth.detail
    codec.handshake(m.ConfigureSession(HANDS_FREE), [])  # resuming: not started yet
    refused = codec.close_failure(1008, "BidiGenerateContent session not found")
    assert refused.category is ErrorCategory.SERVER and not codec.resumes
    model = codec.close_failure(1008, "models/x is not found for API version v1beta")
    assert model.category is ErrorCategory.INVALID_REQUEST
    assert codec.close_failure(1011, "Internal error").category is ErrorCategory.SERVER


def test_input_transcription_config_follows_the_transcription_setting() -> None:
    config = SessionConfig(provider="gemini", transcription=TranscriptionParams(language="de"))
    assert setup_message(config)["setup"]["inputAudioTranscription"] == {}
