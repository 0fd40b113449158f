import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from app.session.context import ContextPolicy

CLIENT_EVENT = TypeAdapter(RealtimeClientEvent)


def add_turn(policy: ContextPolicy, n: int, *, tool: bool = False) -> None:
    policy.on_item_added(f"u{n}", "user", f"question {n}")
    if tool:
        policy.on_item_added(f"call{n}", "tool")
        policy.on_item_added(f"out{n}", "tool")
    policy.on_item_added(f"a{n}", "assistant")
    policy.on_item_text(f"a{n}", f"answer {n}")


def test_keep_turns_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ContextPolicy(0)


def test_deletes_turns_older_than_the_last_n_once() -> None:
    policy = ContextPolicy(keep_turns=2)
    add_turn(policy, 1, tool=True)
    add_turn(policy, 2)
    assert policy.items_to_delete() == []
    add_turn(policy, 3)
    assert policy.items_to_delete() == ["u1", "call1", "out1", "a1"]
    assert policy.items_to_delete() == []  # handed out once
    for item_id in ("u1", "call1", "out1", "a1"):
        policy.on_item_deleted(item_id)
    assert policy.turn_count() == 2
    assert policy.item_ids() == ["u2", "a2", "u3", "a3"]
    add_turn(policy, 4)
    assert policy.items_to_delete() == ["u2", "a2"]


def test_items_before_first_user_message_form_a_turn() -> None:
    policy = ContextPolicy(keep_turns=1)
    policy.on_item_added("greeting", "assistant", "Hello!")
    add_turn(policy, 1)
    assert policy.items_to_delete() == ["greeting"]


def test_replay_is_text_in_ga_shapes_and_validates() -> None:
    policy = ContextPolicy(keep_turns=2)
    add_turn(policy, 1)
    add_turn(policy, 2, tool=True)
    policy.on_item_added("u3", "user", "question 3")
    policy.on_item_added("a3", "assistant")  # interrupted before any audio: no text
    payloads = policy.replay_items()
    assert payloads == [
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": role,
                "content": [{"type": kind, "text": text}],
            },
        }
        for role, kind, text in [
            ("user", "input_text", "question 2"),
            ("assistant", "output_text", "answer 2"),
            ("user", "input_text", "question 3"),
        ]
    ]
    for payload in payloads:
        CLIENT_EVENT.validate_python(payload)


def test_truncated_assistant_replays_only_heard_text() -> None:
    policy = ContextPolicy(keep_turns=3)
    add_turn(policy, 1)
    policy.on_item_text("a1", "answer")
    assert policy.replay_items()[-1]["item"]["content"][0]["text"] == "answer"


def test_reconnect_cycle_restores_the_same_context() -> None:
    policy = ContextPolicy(keep_turns=2)
    for n in range(1, 5):
        add_turn(policy, n)
    before = policy.replay_items()
    policy.reset()
    assert policy.item_ids() == []
    # The server echoes the replayed items with new ids.
    for index, payload in enumerate(before):
        item = payload["item"]
        policy.on_item_added(f"new{index}", item["role"], item["content"][0]["text"])
    assert policy.replay_items() == before
    assert policy.items_to_delete() == []


def test_repeated_added_event_updates_text_only() -> None:
    policy = ContextPolicy(keep_turns=1)
    policy.on_item_added("u1", "user")
    policy.on_item_added("u1", "user", "hello")
    policy.on_item_text("missing", "ignored")
    policy.on_item_deleted("missing")
    assert policy.item_ids() == ["u1"]
    assert policy.replay_items()[0]["item"]["content"][0]["text"] == "hello"
