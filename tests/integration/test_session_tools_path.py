"""The whole tool path of the driver against a scripted server, with the real ToolRunner.

Calls start when their item completes (``function_call_arguments.done``), before
``response.done``; outputs and the follow-up ``response.create`` are sent only after it. A
barge-in during a tool sends an explicit cancelled output and never speaks a stale result; a
non-idempotent call is never retried.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websockets

from app.runtime.commands import Interrupt, SendText
from app.session.driver import SessionDriver
from app.session.states import State
from app.session.tools import ToolRegistry, ToolRunner, ToolSpec
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_server import Peer, ScriptedServer, wait_until
from tests.helpers.session_launch import scripted_config, start_listening

CALL = {"call_id": "call_1", "name": "probe", "arguments": '{"x": 1}'}


class ToolScript:
    """Server side: response 1 is a function call; later responses speak a short answer.

    ``hold_done`` makes response 1 wait (up to 10 s) for ``release_done`` before its
    ``response.done``; ``cancel_first`` makes it wait for a ``response.cancel`` instead and end
    cancelled. ``done_index`` is the number of client events received when response 1's done
    was sent.
    """

    def __init__(self, hold_done: threading.Event | None = None, cancel_first: bool = False):
        self.hold_done = hold_done
        self.cancel_first = cancel_first
        self.done_index: int | None = None
        self.responses = 0

    async def __call__(self, peer: Peer) -> None:
        await peer.session_created()
        while True:
            try:
                event = await peer.recv(timeout=3600)
            except (websockets.ConnectionClosed, TimeoutError):
                return
            if event["type"] == "conversation.item.create":
                item = {**event["item"], "id": f"item_c{len(peer.received)}", "status": "completed"}
                await peer.send({"type": "conversation.item.done", "item": item})
            if event["type"] != "response.create":
                continue
            self.responses += 1
            rid = f"resp_{self.responses}"
            created = {"id": rid, "object": "realtime.response", "status": "in_progress"}
            await peer.send({"type": "response.created", "response": {**created, "output": []}})
            if self.responses == 1:
                await self._function_call(peer, rid)
            else:
                await self._answer(peer, rid)

    async def _function_call(self, peer: Peer, rid: str) -> None:
        item = {"id": "item_fc", "type": "function_call", "status": "in_progress", **CALL}
        await peer.send({"type": "response.output_item.added", "response_id": rid, "item": item})
        base = {"response_id": rid, "item_id": "item_fc", "output_index": 0}
        await peer.send({"type": "response.function_call_arguments.done", **base, **CALL})
        status, reason = "completed", None
        if self.cancel_first:
            await peer.recv_until("response.cancel")
            status, reason = "cancelled", "client_cancelled"
        elif self.hold_done is not None:
            await asyncio.to_thread(self.hold_done.wait, 10)
        done_item = {**item, "status": "completed" if status == "completed" else "incomplete"}
        self.done_index = len(peer.received)
        await peer.send(
            {
                "type": "response.done",
                "response": {
                    "id": rid,
                    "status": status,
                    "status_details": {"type": status, "reason": reason} if reason else None,
                    "output": [done_item],
                },
            }
        )

    async def _answer(self, peer: Peer, rid: str) -> None:
        base = {"response_id": rid, "item_id": f"item_{rid}", "output_index": 0, "content_index": 0}
        await peer.send({"type": "response.output_audio.delta", **base, "delta": "AAAA" * 400})
        await peer.send(
            {"type": "response.output_audio_transcript.done", **base, "transcript": "Done."}
        )
        await peer.send({"type": "response.done", "response": {"id": rid, "status": "completed"}})


class Tool:
    """A registered tool whose handler the test controls."""

    def __init__(self, interruptible: bool = True, idempotent: bool = True) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.fail = False
        self.interruptible = interruptible
        self.idempotent = idempotent

    async def handler(self, x: int) -> dict[str, Any]:
        self.calls += 1
        self.started.set()
        while not self.release.is_set():
            await asyncio.sleep(0.005)
        if self.fail:
            raise ValueError("the probe broke")
        return {"value": x + 1}

    def factory(self) -> Callable[[Callable[..., None]], tuple[ToolRunner, list[dict[str, Any]]]]:
        registry = ToolRegistry()
        registry.register(
            ToolSpec(
                "probe",
                "Test probe.",
                {"type": "object", "properties": {"x": {"type": "integer"}}},
                self.handler,
                idempotent=self.idempotent,
                interruptible=self.interruptible,
            )
        )
        return lambda on_done: (ToolRunner(registry, on_done, timeout_s=10), registry.schemas())


@pytest.fixture
def running() -> Iterator[list[tuple[SessionDriver, Tool]]]:
    started: list[tuple[SessionDriver, Tool]] = []
    yield started
    for driver, tool in started:
        tool.release.set()
        assert driver.stop(5.0)


def run(
    srv: ScriptedServer, tool: Tool, running: list[tuple[SessionDriver, Tool]]
) -> SessionDriver:
    config = scripted_config(srv.url)
    driver = SessionDriver(
        config, FakePlayback(), lambda e: None, lambda: None, tools=tool.factory()
    )
    running.append((driver, tool))
    return start_listening(driver, what="connected")


def outputs(srv: ScriptedServer) -> list[dict[str, Any]]:
    return [
        e["item"]
        for e in srv.received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]


def index_of(srv: ScriptedServer, predicate: Callable[[dict[str, Any]], bool]) -> int:
    return next(i for i, e in enumerate(list(srv.received)) if predicate(e))


def test_call_runs_when_its_item_completes_and_output_follows_the_done(
    running: list[tuple[SessionDriver, Tool]],
) -> None:
    hold = threading.Event()
    script = ToolScript(hold_done=hold)
    tool = Tool()
    with ScriptedServer(script) as srv:
        try:
            driver = run(srv, tool, running)
            driver.submit(SendText("probe it"))
            # The tool starts while response 1 is still open (its done is held back).
            assert tool.started.wait(3)
            assert script.done_index is None
            tool.release.set()
            wait_until(lambda: driver.conversation.tools.idle, 5, "tool finished")
            assert outputs(srv) == []  # held until the response is done
            hold.set()
            wait_until(lambda: len(srv.of_type("response.create")) == 2, 5, "follow-up")
            wait_until(lambda: driver.fsm_state is State.TAIL, 5, "answer")
            assert script.done_index is not None
            out = index_of(
                srv,
                lambda e: (
                    e["type"] == "conversation.item.create"
                    and e["item"]["type"] == "function_call_output"
                ),
            )
            second = [i for i, e in enumerate(srv.received) if e["type"] == "response.create"][1]
            assert script.done_index <= out < second
            assert json.loads(outputs(srv)[0]["output"]) == {"value": 2}
            assert tool.calls == 1 and driver.conversation.tools.started == ["call_1"]
        finally:
            hold.set()


def test_barge_in_during_a_running_tool_sends_cancelled_output_and_no_response(
    running: list[tuple[SessionDriver, Tool]],
) -> None:
    tool = Tool(interruptible=True)
    with ScriptedServer(ToolScript()) as srv:
        driver = run(srv, tool, running)
        driver.submit(SendText("probe it"))
        wait_until(lambda: driver.fsm_state is State.TOOL_RUNNING, 5, "tool running")
        driver.submit(Interrupt())
        wait_until(lambda: bool(outputs(srv)), 5, "cancelled output")
        assert json.loads(outputs(srv)[0]["output"])["status"] == "cancelled"
        assert driver.fsm_state is State.LISTENING
        assert len(srv.of_type("response.create")) == 1  # nothing spoken about it


def test_stale_result_of_a_non_interruptible_tool_is_recorded_never_spoken(
    running: list[tuple[SessionDriver, Tool]],
) -> None:
    tool = Tool(interruptible=False)
    with ScriptedServer(ToolScript()) as srv:
        driver = run(srv, tool, running)
        driver.submit(SendText("probe it"))
        wait_until(lambda: driver.fsm_state is State.TOOL_RUNNING, 5, "tool running")
        driver.submit(Interrupt())
        wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "interrupted")
        assert outputs(srv) == []  # still running
        tool.release.set()
        wait_until(lambda: bool(outputs(srv)), 5, "stale result recorded")
        assert json.loads(outputs(srv)[0]["output"]) == {"value": 2}
        wait_until(lambda: driver.conversation.tools.idle, 2)
        assert len(srv.of_type("response.create")) == 1


def test_barge_in_before_the_response_is_done_cancels_the_early_call(
    running: list[tuple[SessionDriver, Tool]],
) -> None:
    tool = Tool(interruptible=True)
    with ScriptedServer(ToolScript(cancel_first=True)) as srv:
        driver = run(srv, tool, running)
        driver.submit(SendText("probe it"))
        assert tool.started.wait(5)
        driver.submit(Interrupt())
        wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "cancelled done")
        assert len(srv.of_type("response.cancel")) == 1
        wait_until(lambda: bool(outputs(srv)), 5, "cancelled output")
        assert json.loads(outputs(srv)[0]["output"])["status"] == "cancelled"
        assert len(srv.of_type("response.create")) == 1


def test_failed_non_idempotent_call_is_reported_once_never_retried(
    running: list[tuple[SessionDriver, Tool]],
) -> None:
    tool = Tool(idempotent=False)
    tool.fail = True
    tool.release.set()
    with ScriptedServer(ToolScript()) as srv:
        driver = run(srv, tool, running)
        driver.submit(SendText("probe it"))
        wait_until(lambda: len(srv.of_type("response.create")) == 2, 5, "follow-up")
        wait_until(lambda: driver.fsm_state in (State.TAIL, State.LISTENING), 5)
        # arguments.done and response.done both named call_1: it ran once, and the failure
        # went to the model instead of a second attempt.
        assert tool.calls == 1
        assert [json.loads(o["output"])["status"] for o in outputs(srv)] == ["error"]
