"""Regression tests for defects found in review of the session driver and conversation.

Each test is named after the defect it pins down; all run the real driver against a scripted
WebSocket server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import threading
import time
from typing import Any

import pytest
import websockets

from app.events import AudioChunk, SpeechStarted, SpeechStopped
from app.runtime.commands import Interrupt, PushToTalkPressed, PushToTalkReleased, SendText
from app.session.config import RepairPolicy, SessionConfig, TurnMode, VadKind
from app.session.context import ContextPolicy
from app.session.driver import SessionDriver
from app.session.states import State
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_server import Peer, ScriptedServer, wait_until
from tests.helpers.session_launch import FAST as BASE_FAST
from tests.helpers.session_launch import running_drivers, scripted_config, start_listening

FAST = {**BASE_FAST, "response_timeout_s": 1.0}


running = pytest.fixture(running_drivers, name="running")


def launch(
    running: list[SessionDriver], server: ScriptedServer, **changes: Any
) -> tuple[SessionDriver, FakePlayback, list[object]]:
    context = changes.pop("context", None)
    config = scripted_config(server.url, FAST, **changes)
    playback, events = FakePlayback(), []
    driver = SessionDriver(config, playback, events.append, auth=lambda: None, context=context)
    start_listening(driver, running)
    return driver, playback, events


def enqueued(playback: FakePlayback) -> int:
    return sum(1 for name, _ in playback.calls if name == "enqueue")


def test_stop_is_not_blocked_by_a_slow_keyring_read() -> None:
    """Reading the key (a D-Bus keyring call) must not block the session loop."""
    entered, release = threading.Event(), threading.Event()

    def slow_auth() -> str:
        entered.set()
        release.wait(10)
        return "sk-slow-keyring-0000"

    with ScriptedServer() as srv:
        config = SessionConfig(provider="test", url=srv.url, **FAST)
        driver = SessionDriver(config, FakePlayback(), lambda _e: None, auth=slow_auth)
        driver.start()
        try:
            assert entered.wait(5)
            began = time.monotonic()
            assert driver.stop(3.0), "the loop was blocked by the keyring read"
            assert time.monotonic() - began < 3.0
        finally:
            release.set()


def test_cancelled_response_whose_done_never_comes_does_not_wedge_the_session(
    running: list[SessionDriver],
) -> None:
    """A lost ``response.done`` after a cancel: the driver reconnects instead of waiting forever."""

    async def handler(peer: Peer) -> None:
        await peer.session_created()
        answered = 0
        while True:
            try:
                event = await peer.recv(timeout=3600)
            except (websockets.ConnectionClosed, TimeoutError):
                return
            if event["type"] != "response.create":
                continue
            answered += 1
            rid = f"resp_{peer.index}_{answered}"
            base = {"response_id": rid, "item_id": f"it_{rid}", "output_index": 0}
            await peer.send({"type": "response.created", "response": {"id": rid, "output": []}})
            delta = base64.b64encode(b"\x01\x00" * 2400).decode()
            await peer.send({"type": "response.output_audio.delta", **base, "delta": delta})
            if peer.index == 0:
                continue  # this server forgets the response: no done, ever (not even on cancel)
            await peer.send(
                {"type": "response.done", "response": {"id": rid, "status": "completed"}}
            )

    with ScriptedServer(handler) as srv:
        driver, playback, _ = launch(running, srv)
        driver.submit(SendText("tell me a story"))
        wait_until(lambda: enqueued(playback) >= 1, 5, "audio")
        driver.submit(Interrupt())
        wait_until(lambda: driver.fsm_state is State.CANCELLING, 3, "cancelling")
        wait_until(lambda: len(srv.peers) == 2, 5, "a new connection after the lost done")
        wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "listening again")
        driver.submit(SendText("are you there?"))
        wait_until(lambda: driver.fsm_state is State.TAIL, 5, "answered on the new connection")


def test_voice_turns_are_replayed_with_their_transcripts_after_a_reconnect(
    running: list[SessionDriver],
) -> None:
    """A spoken user turn's transcript must reach the context, or the replay loses the question."""

    async def handler(peer: Peer) -> None:
        await peer.session_created()
        while True:
            try:
                event = await peer.recv(timeout=3600)
            except (websockets.ConnectionClosed, TimeoutError):
                return
            if event["type"] == "input_audio_buffer.commit" and peer.index == 0:
                item = {
                    "id": "item_user1",
                    "type": "message",
                    "role": "user",
                    "status": "completed",
                    "content": [{"type": "input_audio", "transcript": None}],
                }
                await peer.send({"type": "input_audio_buffer.committed", "item_id": "item_user1"})
                await peer.send({"type": "conversation.item.done", "item": item})
                await peer.send(
                    {
                        "type": "conversation.item.input_audio_transcription.completed",
                        "item_id": "item_user1",
                        "content_index": 0,
                        "transcript": "what time is it",
                    }
                )
            elif event["type"] == "response.create" and peer.index == 0:
                text = "It is noon."
                base = {"response_id": "r1", "item_id": "item_a1", "output_index": 0}
                await peer.send({"type": "response.created", "response": {"id": "r1"}})
                delta = base64.b64encode(b"\x01\x00" * 2400).decode()
                await peer.send({"type": "response.output_audio.delta", **base, "delta": delta})
                item = {
                    "id": "item_a1",
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_audio", "transcript": text}],
                }
                await peer.send({"type": "conversation.item.done", "item": item})
                await peer.send({"type": "response.done", "response": {"id": "r1"}})
                await asyncio.sleep(0.05)
                await peer.close(1001, "session limit")
                return

    with ScriptedServer(handler) as srv:
        driver, _, _ = launch(
            running, srv, turn_mode=TurnMode.PUSH_TO_TALK, context=ContextPolicy(4)
        )
        driver.submit(PushToTalkPressed())
        for i in range(15):
            driver.submit(AudioChunk(b"\x00\x01" * 480, 24000, i * 480, 0.0))
        driver.submit(PushToTalkReleased())
        wait_until(lambda: len(srv.peers) == 2, 5, "reconnected")
        wait_until(lambda: len(srv.peers[1].received) >= 3, 3, "replay")
        replay = [e for e in srv.peers[1].received if e["type"] == "conversation.item.create"]
        assert [(e["item"]["role"], e["item"]["content"][0]["text"]) for e in replay] == [
            ("user", "what time is it"),
            ("assistant", "It is noon."),
        ]


def test_replay_keeps_only_what_was_heard_of_an_interrupted_answer(
    running: list[SessionDriver],
) -> None:
    """After a truncate the context holds the heard part, even when the item's done comes later."""
    with ScriptedServer() as srv:
        srv.knobs = dataclasses.replace(
            srv.knobs,
            chunks=40,
            pace_s=0.02,
            transcript=" ".join(f"w{i}" for i in range(40)),
        )
        driver, playback, _ = launch(
            running, srv, turn_mode=TurnMode.PUSH_TO_TALK, context=ContextPolicy(4)
        )
        driver.submit(SendText("count for me"))
        wait_until(lambda: enqueued(playback) >= 10, 5, "audio")
        playback.played = 500.0  # five of the 100 ms chunks were heard
        driver.submit(Interrupt())
        wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "cancelled")
        wait_until(lambda: bool(srv.of_type("conversation.item.truncate")), 3, "truncate")
        # the mimic echoes every created item; make the assistant item known to the context
        # with its full partial text (as a real server's conversation.item.done would)
        peer = srv.peers[0]
        item_id = srv.of_type("conversation.item.truncate")[0]["item_id"]
        full = " ".join(f"w{i}" for i in range(30))
        item = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "incomplete",
            "content": [{"type": "output_audio", "transcript": full}],
        }
        srv.run(peer.send({"type": "conversation.item.done", "item": item}))
        srv.run(peer.close(1001, "session limit"))
        wait_until(lambda: len(srv.peers) == 2, 5, "reconnected")
        wait_until(
            lambda: any(
                e["type"] == "conversation.item.create" and e["item"]["role"] == "assistant"
                for e in srv.peers[1].received
            ),
            3,
            "replay",
        )
        replay = [e for e in srv.peers[1].received if e["type"] == "conversation.item.create"]
        said = [e["item"]["content"][0]["text"] for e in replay if e["item"]["role"] == "assistant"]
        assert len(said) == 1
        words = said[0].split()
        assert 1 <= len(words) <= 6 and words == [f"w{i}" for i in range(len(words))]


def test_local_vad_false_interruption_clears_the_blip_from_the_input_buffer(
    running: list[SessionDriver],
) -> None:
    """A blip that only ducked playback must not be committed with the user's next turn."""
    with ScriptedServer() as srv:
        srv.knobs = dataclasses.replace(srv.knobs, chunks=50, pace_s=0.02)
        driver, playback, _ = launch(
            running,
            srv,
            turn_mode=TurnMode.HANDS_FREE,
            vad=VadKind.LOCAL,
            min_interruption_ms=60_000,
        )
        driver.submit(SendText("tell me a story"))
        wait_until(lambda: driver.fsm_state is State.SPEAKING, 5, "speaking")
        now = time.monotonic()
        driver.submit(SpeechStarted(0, now))
        for i in range(5):
            driver.submit(AudioChunk(b"\x00\x02" * 480, 24000, i * 480, now))
        wait_until(lambda: driver.fsm_state is State.SPEAKING_DUCKED, 3, "ducked")
        wait_until(lambda: bool(srv.of_type("input_audio_buffer.append")), 3, "blip sent")
        driver.submit(SpeechStopped(2400, now + 0.1))
        wait_until(lambda: driver.fsm_state is State.SPEAKING, 3, "resumed")
        wait_until(lambda: "input_audio_buffer.clear" in srv.types(), 3, "blip cleared")
        types = srv.types()
        last_append = max(i for i, t in enumerate(types) if t == "input_audio_buffer.append")
        assert types.index("input_audio_buffer.clear", last_append) > last_append


def test_heard_text_counts_transcript_that_arrived_before_the_items_first_audio(
    running: list[SessionDriver],
) -> None:
    """The local engine sends each sentence's transcript before its audio: none may be lost."""

    async def handler(peer: Peer) -> None:
        await peer.session_created()
        while True:
            try:
                event = await peer.recv(timeout=3600)
            except (websockets.ConnectionClosed, TimeoutError):
                return
            if event["type"] == "response.create":
                base = {"response_id": "r1", "item_id": "item_a1", "output_index": 0}
                await peer.send({"type": "response.created", "response": {"id": "r1"}})
                delta = base64.b64encode(b"\x01\x00" * 2400).decode()  # 100 ms
                for sentence in ("Alpha bravo charlie delta. ", "Echo foxtrot golf hotel. "):
                    await peer.send(
                        {
                            "type": "response.output_audio_transcript.delta",
                            **base,
                            "delta": sentence,
                        }
                    )
                    for _ in range(10):
                        await peer.send(
                            {"type": "response.output_audio.delta", **base, "delta": delta}
                        )
            elif event["type"] == "response.cancel":
                await peer.send(
                    {
                        "type": "response.done",
                        "response": {
                            "id": "r1",
                            "status": "cancelled",
                            "status_details": {"type": "cancelled", "reason": "client_cancelled"},
                        },
                    }
                )

    with ScriptedServer(handler) as srv:
        driver, playback, _ = launch(
            running, srv, turn_mode=TurnMode.PUSH_TO_TALK, repair=RepairPolicy.HEARD_NOTE
        )
        driver.submit(SendText("spell it"))
        wait_until(lambda: enqueued(playback) == 20, 5, "all audio")
        playback.played = 900.0  # most of the first sentence, nothing of the second
        driver.submit(Interrupt())
        wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "cancelled")
        notes = [
            e["item"]["content"][0]["text"]
            for e in srv.of_type("conversation.item.create")
            if e["item"]["role"] == "system"
        ]
        assert len(notes) == 1
        assert "Alpha" in notes[0] and "Echo" not in notes[0]
