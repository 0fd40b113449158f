"""Follow-ups from the session core review, each pinned down against a scripted server.

- a crash of the driver's loop tells observers FAILED, with a notice that offers an action;
- tool results that finish after a reconnect are recorded, never sent to the new conversation;
- a typed turn while the user is speaking (local VAD) clears that speech's audio from the input
  buffer, so it cannot open the next voice turn;
- the pinned-facts read for the instructions runs off the session loop.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.events import (
    AssistantState,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    NoticeLevel,
    PlaybackDrained,
    SessionStateChanged,
    SpeechStarted,
    SpeechStopped,
    UserNotice,
)
from app.runtime.commands import SendText
from app.session.config import TurnMode, VadKind
from app.session.driver import SessionDriver
from app.session.states import State
from app.session.tools import ToolRegistry, ToolRunner, ToolSpec
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_server import Peer, ScriptedServer, wait_until
from tests.helpers.session_launch import FAST as BASE_FAST
from tests.helpers.session_launch import running_drivers, scripted_config

FAST = {**BASE_FAST, "response_timeout_s": 2.0}


running = pytest.fixture(running_drivers, name="running")


def make_driver(
    running: list[SessionDriver], server: ScriptedServer, events: list[object], **kwargs: Any
) -> SessionDriver:
    changes = kwargs.pop("config", {})
    config = scripted_config(server.url, FAST, **changes)
    driver = SessionDriver(config, FakePlayback(), events.append, auth=lambda: None, **kwargs)
    running.append(driver)
    return driver


# ---------------------------------------------------------------------- 1. loop crash


class ExplodingContext:
    """A context whose ``reset`` raises: a bug in a collaborator crashes the loop mid-connect."""

    def on_item_added(self, item_id: str, role: str, text: str) -> None:
        """Unused."""

    def on_item_text(self, item_id: str, text: str) -> None:
        """Unused."""

    def on_item_deleted(self, item_id: str) -> None:
        """Unused."""

    def items_to_delete(self) -> list[str]:
        return []

    def replay_items(self) -> list[dict[str, Any]]:
        return []

    def reset(self) -> None:
        raise RuntimeError("context bug")


def assert_told_failed(driver: SessionDriver, events: list[object]) -> None:
    wait_until(lambda: driver.state is AssistantState.FAILED, 5, "FAILED published")
    states = [e.state for e in events if isinstance(e, SessionStateChanged)]
    assert states[-1] is AssistantState.FAILED
    connection = [e for e in events if isinstance(e, ConnectionChanged)]
    assert connection[-1].state is ConnectionState.FAILED
    notices = [e for e in events if isinstance(e, UserNotice)]
    assert len(notices) == 1
    assert notices[0].level is NoticeLevel.ERROR
    assert notices[0].action == "reconnect"
    assert "RuntimeError" in notices[0].text
    # The loop thread is gone; stopping still returns at once.
    assert driver.stop(2.0)


def test_loop_crash_while_connecting_publishes_failed_with_an_action(
    running: list[SessionDriver],
) -> None:
    with ScriptedServer() as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events, context=ExplodingContext())
        driver.start()
        assert_told_failed(driver, events)


def test_loop_crash_before_connecting_publishes_failed_with_an_action(
    running: list[SessionDriver],
) -> None:
    def broken_tools(_on_done: Callable[..., None]) -> Any:
        raise RuntimeError("tool registry bug")

    with ScriptedServer() as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events, tools=broken_tools)
        driver.start()
        assert_told_failed(driver, events)
        assert srv.attempts == 0


def test_stop_after_a_normal_session_publishes_no_failure(running: list[SessionDriver]) -> None:
    with ScriptedServer() as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening")
        assert driver.stop(5.0)
        assert driver.state is AssistantState.DISCONNECTED
        assert not [e for e in events if isinstance(e, UserNotice)]


# ---------------------------------------------------------------------- 2. tools across reconnects


class SlowTool:
    """A non-interruptible tool that finishes only when the test releases it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.results: list[Any] = []

    async def handler(self, x: int) -> dict[str, Any]:
        self.started.set()
        while not self.release.is_set():
            await asyncio.sleep(0.005)
        return {"value": x + 1}

    def factory(self) -> Callable[[Callable[..., None]], tuple[ToolRunner, list[dict[str, Any]]]]:
        registry = ToolRegistry()
        registry.register(
            ToolSpec(
                "probe",
                "Test probe.",
                {"type": "object", "properties": {"x": {"type": "integer"}}},
                self.handler,
                idempotent=True,
                interruptible=False,
            )
        )

        def build(on_done: Callable[..., None]) -> tuple[ToolRunner, list[dict[str, Any]]]:
            def recorded(result: Any) -> None:
                self.results.append(result)
                on_done(result)

            return ToolRunner(registry, recorded, timeout_s=10), registry.schemas()

        return build


async def call_then_drop(peer: Peer) -> None:
    """Connection 0 answers with a function call, then goes away; later ones just listen."""
    await peer.session_created()
    if peer.index > 0:
        await peer.drain()
        return
    await peer.recv_until("response.create")
    rid = "resp_1"
    call = {"call_id": "call_1", "name": "probe", "arguments": '{"x": 1}'}
    await peer.send({"type": "response.created", "response": {"id": rid, "output": []}})
    base = {"response_id": rid, "item_id": "item_fc", "output_index": 0}
    await peer.send({"type": "response.function_call_arguments.done", **base, **call})
    item = {"id": "item_fc", "type": "function_call", "status": "completed", **call}
    await peer.send(
        {"type": "response.done", "response": {"id": rid, "status": "completed", "output": [item]}}
    )
    await peer.close(1001, "going away")


def function_outputs(peer: Peer) -> list[dict[str, Any]]:
    return [
        e
        for e in list(peer.received)
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]


def test_tool_result_after_a_reconnect_is_recorded_not_sent(running: list[SessionDriver]) -> None:
    tool = SlowTool()
    with ScriptedServer(call_then_drop) as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events, tools=tool.factory())
        try:
            driver.start()
            wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening")
            driver.submit(SendText("probe it"))
            assert tool.started.wait(5)
            wait_until(lambda: len(srv.peers) == 2, 5, "reconnected")
            wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "listening again")
            tool.release.set()
            wait_until(lambda: bool(tool.results), 5, "tool finished")
            wait_until(lambda: driver.conversation.tools.dropped == ["call_1"], 3, "recorded")
            # The writer would send at once; a later command proves nothing was queued before it.
            driver.submit(SendText("still there?"))
            wait_until(
                lambda: any(
                    e["type"] == "conversation.item.create" for e in list(srv.peers[1].received)
                ),
                5,
                "the typed turn on the new connection",
            )
            assert function_outputs(srv.peers[1]) == []
            assert not [e for e in srv.peers[1].received if e["type"] == "error"]
        finally:
            tool.release.set()


# ---------------------------------------------------------------------- 3. typed turn mid-speech


def chunk(index: int, at: float) -> AudioChunk:
    return AudioChunk(b"\x00\x02" * 480, 24000, index * 480, at)


def appended_since_last_reset(types: list[str], received: list[dict[str, Any]]) -> int:
    """Bytes in the server's input buffer at the first commit (after the last clear)."""
    commit = types.index("input_audio_buffer.commit")
    size = 0
    for event in received[:commit]:
        if event["type"] == "input_audio_buffer.clear":
            size = 0
        elif event["type"] == "input_audio_buffer.append":
            size += len(base64.b64decode(event["audio"]))
    return size


def test_typed_turn_while_speaking_clears_that_speech_local_vad(
    running: list[SessionDriver],
) -> None:
    with ScriptedServer() as srv:
        srv.knobs.chunks = 1
        events: list[object] = []
        driver = make_driver(
            running, srv, events, config=dict(turn_mode=TurnMode.HANDS_FREE, vad=VadKind.LOCAL)
        )
        driver.start()
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening")
        now = time.monotonic()
        driver.submit(SpeechStarted(0, now))
        for i in range(5):
            driver.submit(chunk(i, now))
        wait_until(lambda: bool(srv.of_type("input_audio_buffer.append")), 3, "speech sent")
        driver.submit(SendText("what time is it"))
        # The rest of the interrupted speech must not reach the buffer either.
        for i in range(5, 10):
            driver.submit(chunk(i, now))
        driver.submit(SpeechStopped(4800, now + 0.2))
        wait_until(lambda: driver.fsm_state is State.TAIL, 5, "typed turn answered")
        types = srv.types()
        text_at = next(
            i
            for i, e in enumerate(list(srv.received))
            if e["type"] == "conversation.item.create" and e["item"]["type"] == "message"
        )
        clear_at = types.index("input_audio_buffer.clear")
        assert clear_at < text_at
        assert "input_audio_buffer.commit" not in types
        assert "input_audio_buffer.append" not in types[clear_at:]
        # The next spoken turn commits only its own audio.
        driver.submit(PlaybackDrained("resp_0_1", time.monotonic()))
        wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "answer played")
        later = time.monotonic()
        driver.submit(SpeechStarted(12000, later))
        for i in range(25, 30):
            driver.submit(chunk(i, later))
        driver.submit(SpeechStopped(14400, later + 0.2))
        wait_until(lambda: "input_audio_buffer.commit" in srv.types(), 5, "second turn")
        committed = appended_since_last_reset(srv.types(), list(srv.received))
        # Five chunks of speech plus at most the pre-roll (300 ms), none of the first speech.
        assert 5 * 960 <= committed <= 5 * 960 + 300 * 48


# ---------------------------------------------------------------------- 4. memory off the loop


class BlockingMemory:
    """Pinned facts whose read blocks (a locked database) until released."""

    def __init__(self, block_from_call: int = 1) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.threads: list[str] = []
        self._block_from = block_from_call

    def instructions_block(self) -> str:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        if self.calls >= self._block_from:
            self.entered.set()
            self.release.wait(10)
        return "Facts the user asked you to remember:\n- the cat is called Miso"


def test_memory_read_for_instructions_is_off_the_loop(running: list[SessionDriver]) -> None:
    memory = BlockingMemory()
    with ScriptedServer() as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events, memory=memory)
        try:
            driver.start()
            assert memory.entered.wait(5)
            began = time.monotonic()
            assert driver.stop(3.0), "the loop was blocked by the memory read"
            assert time.monotonic() - began < 3.0
            assert "session-loop" not in memory.threads
        finally:
            memory.release.set()


def test_memory_facts_reach_the_instructions(running: list[SessionDriver]) -> None:
    memory = BlockingMemory()
    memory.release.set()
    with ScriptedServer() as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events, memory=memory)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening")
        update = srv.of_type("session.update")[0]
        assert "Miso" in update["session"]["instructions"]
        # A settings change re-reads the facts, also off the loop, and sends the latest config.
        driver.reconfigure(dataclasses.replace(driver.conversation.config, voice="cedar"))
        driver.reconfigure(dataclasses.replace(driver.conversation.config, voice="marin"))
        wait_until(lambda: len(srv.of_type("session.update")) >= 2, 5, "update sent")
        wait_until(
            lambda: (
                srv.of_type("session.update")[-1]["session"]["audio"]["output"]["voice"] == "marin"
            ),
            5,
            "latest settings last",
        )
        assert "Miso" in srv.of_type("session.update")[-1]["session"]["instructions"]
        assert "session-loop" not in memory.threads


def test_reconfigure_with_a_blocked_memory_read_keeps_the_loop_free(
    running: list[SessionDriver],
) -> None:
    memory = BlockingMemory(block_from_call=2)
    with ScriptedServer() as srv:
        events: list[object] = []
        driver = make_driver(running, srv, events, memory=memory)
        try:
            driver.start()
            wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening")
            driver.reconfigure(dataclasses.replace(driver.conversation.config, voice="cedar"))
            assert memory.entered.wait(5)
            driver.submit(SendText("hello"))
            wait_until(lambda: driver.fsm_state is not State.LISTENING, 3, "loop still serves")
            memory.release.set()
            wait_until(lambda: len(srv.of_type("session.update")) == 2, 5, "update sent")
        finally:
            memory.release.set()
