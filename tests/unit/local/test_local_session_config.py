"""session.update merge rules and the conversation store (truncate, ordering)."""

from __future__ import annotations

import pytest

from app.local.config import ConfigError, TurnDetection, default_session, merge_session
from app.local.conversation import Conversation, ConversationError


def base() -> dict:
    return default_session("gpt-realtime", {})


def test_merge_changes_only_given_keys_and_null_clears() -> None:
    merged = merge_session(
        base(),
        {
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}
            },
        },
        audio_produced=False,
    )
    td = merged["audio"]["input"]["turn_detection"]
    assert td["silence_duration_ms"] == 300 and td["threshold"] == 0.5  # nested merge
    assert merged["audio"]["output"]["voice"] == "marin"
    cleared = merge_session(
        merged,
        {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        audio_produced=False,
    )
    assert cleared["audio"]["input"]["turn_detection"] is None
    assert TurnDetection.from_session(cleared) is None
    assert (
        merge_session(base(), {"type": "realtime", "tools": []}, audio_produced=False)["tools"]
        == []
    )


@pytest.mark.parametrize(
    ("update", "param"),
    [
        ({"type": "realtime", "model": "gpt-4o-realtime-preview"}, "session.model"),
        ({"instructions": "no type"}, "session.type"),
        ({"type": "realtime", "output_modalities": ["audio", "text"]}, "session.output_modalities"),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
            },
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}}}},
            "session.audio.output.format",
        ),
        ({"type": "realtime", "tools": [{"type": "function"}]}, "session.tools"),
        ({"type": "realtime", "audio": {"output": {"speed": 3}}}, "session.audio.output.speed"),
    ],
)
def test_bad_updates_are_refused_with_the_param(update: dict, param: str) -> None:
    with pytest.raises(ConfigError) as info:
        merge_session(base(), update, audio_produced=False)
    assert info.value.param == param


def test_voice_locks_after_audio() -> None:
    update = {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}
    assert (
        merge_session(base(), update, audio_produced=False)["audio"]["output"]["voice"] == "cedar"
    )
    with pytest.raises(ConfigError):
        merge_session(base(), update, audio_produced=True)


def test_turn_detection_defaults_fill_missing_keys() -> None:
    session = base()
    session["audio"]["input"]["turn_detection"] = {
        "type": "server_vad",
        "prefix_padding_ms": 0,
        "create_response": False,
    }
    td = TurnDetection.from_session(session)
    assert td == TurnDetection(prefix_padding_ms=0, create_response=False)


def item(item_id: str, role: str = "user") -> dict:
    return {
        "id": item_id,
        "type": "message",
        "role": role,
        "content": [{"type": "input_text", "text": "x"}],
    }


def test_conversation_order_root_and_unknown_previous() -> None:
    conv = Conversation()
    assert conv.insert(item("a")) is None
    assert conv.insert(item("b")) == "a"
    assert conv.insert(item("r"), "root") is None
    assert conv.insert(item("m"), "a") == "a"
    assert [i["id"] for i in conv.items] == ["r", "a", "m", "b"]
    with pytest.raises(ConversationError):
        conv.insert(item("z"), "nope")
    with pytest.raises(ConversationError):
        conv.insert(item("a"))


def test_truncate_cuts_audio_and_unheard_words() -> None:
    conv = Conversation()
    conv.insert(
        {
            "id": "x",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "One two. Three four five six."}],
        }
    )
    track = conv.track("x")
    track.pcm.extend(b"\0" * 48 * 2000)
    track.spans = [(48 * 500, "One two."), (48 * 2000, "Three four five six.")]
    with pytest.raises(ConversationError, match="shorter than 2500ms"):
        conv.truncate("x", 0, 2500)
    conv.truncate("x", 0, 1250)
    assert conv.get("x")["content"][0]["transcript"] == "One two. Three four"
    assert track.ms == 1250
    conv.insert(item("u"))
    with pytest.raises(ConversationError) as info:
        conv.truncate("u", 0, 10)
    assert info.value.code == "unsupported_content_type"
