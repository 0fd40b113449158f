import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.events import ToolCallUpdated, ToolStatus
from app.session.tools import (
    CANCELLED_OUTPUT,
    ToolRegistry,
    ToolResult,
    ToolRunner,
    ToolSpec,
    validate_arguments,
)

NUMBER_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "integer"}},
    "required": ["a"],
    "additionalProperties": False,
}


def spec(
    name: str,
    handler: Callable[..., Awaitable[Any]],
    *,
    parameters: dict[str, Any] | None = None,
    idempotent: bool = True,
    interruptible: bool = True,
) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=f"test tool {name}",
        parameters=parameters or {"type": "object", "properties": {}},
        handler=handler,
        idempotent=idempotent,
        interruptible=interruptible,
    )


class Harness:
    """A runner plus everything it reported, run inside one event loop."""

    def __init__(self, registry: ToolRegistry, timeout_s: float = 5.0) -> None:
        self.results: list[ToolResult] = []
        self.events: list[ToolCallUpdated] = []
        self.changed = asyncio.Event()
        self.runner = ToolRunner(registry, self._done, self._observe, timeout_s=timeout_s)

    def _done(self, result: ToolResult) -> None:
        self.results.append(result)
        self.changed.set()

    def _observe(self, event: object) -> None:
        assert isinstance(event, ToolCallUpdated)
        self.events.append(event)

    async def wait_results(self, count: int) -> list[ToolResult]:
        async with asyncio.timeout(5):
            while len(self.results) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.results


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 10))  # type: ignore[arg-type]


async def add(a: float, b: int = 0) -> dict[str, float]:
    return {"sum": a + b}


def test_schemas_are_ga_function_tools() -> None:
    registry = ToolRegistry()
    registry.register(spec("add", add, parameters=NUMBER_SCHEMA))
    assert registry.schemas() == [
        {
            "type": "function",
            "name": "add",
            "description": "test tool add",
            "parameters": NUMBER_SCHEMA,
        }
    ]
    assert registry.get("add") is not None and registry.get("nope") is None


def test_schemas_validate_against_openai_session_types() -> None:
    from openai.types.realtime import RealtimeClientEvent
    from pydantic import TypeAdapter

    registry = ToolRegistry()
    registry.register(spec("add", add, parameters=NUMBER_SCHEMA))
    event = {"type": "session.update", "session": {"type": "realtime", "tools": registry.schemas()}}
    TypeAdapter(RealtimeClientEvent).validate_python(event)


@pytest.mark.parametrize(
    ("name", "description", "parameters", "message"),
    [
        ("has space", "d", {"type": "object"}, "invalid tool name"),
        ("", "d", {"type": "object"}, "invalid tool name"),
        ("x" * 65, "d", {"type": "object"}, "invalid tool name"),
        ("ok", "d" * 1025, {"type": "object"}, "exceeds 1024"),
        ("ok", "d", {"type": "string"}, "object schema"),
    ],
)
def test_register_rejects_bad_specs(
    name: str, description: str, parameters: dict[str, Any], message: str
) -> None:
    bad = ToolSpec(name, description, parameters, add, idempotent=True, interruptible=True)
    with pytest.raises(ValueError, match=message):
        ToolRegistry().register(bad)


def test_register_rejects_duplicates() -> None:
    registry = ToolRegistry()
    registry.register(spec("add", add))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(spec("add", add))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, r"arguments\.a is required"),
        ({"a": "1"}, r"arguments\.a must be number"),
        ({"a": True}, r"arguments\.a must be number"),
        ({"a": 1, "b": 1.5}, r"arguments\.b must be integer"),
        ({"a": 1, "c": 1}, r"arguments\.c is not allowed"),
        ([], "arguments must be object"),
    ],
)
def test_validate_arguments_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_arguments(NUMBER_SCHEMA, value)


def test_validate_arguments_enum_items_and_unions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "maybe": {"type": ["string", "null"]},
        },
    }
    validate_arguments(schema, {"mode": "a", "tags": ["x"], "maybe": None})
    with pytest.raises(ValueError, match="one of a, b"):
        validate_arguments(schema, {"mode": "c"})
    with pytest.raises(ValueError, match=r"tags\[1\] must be string"):
        validate_arguments(schema, {"tags": ["x", 2]})


def test_successful_call_reports_done_with_events() -> None:
    registry = ToolRegistry()
    registry.register(spec("add", add, parameters=NUMBER_SCHEMA))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("call_1", "add", '{"a": 2, "b": 3}')
        assert h.runner.running() == ["call_1"]
        [result] = await h.wait_results(1)
        assert result == ToolResult("call_1", "add", '{"sum": 5}', ToolStatus.DONE, False)
        assert [e.status for e in h.events] == [ToolStatus.RUNNING, ToolStatus.DONE]
        assert h.events[0].arguments == '{"a": 2, "b": 3}'
        assert h.events[1].result == '{"sum": 5}'
        assert h.runner.running() == []

    run(scenario())


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("nope", "{}", "unknown tool 'nope'"),
        ("add", "{not json", "arguments are not valid JSON"),
        ("add", '{"a": "x"}', "arguments.a must be number"),
        ("add", "[1]", "arguments must be object"),
    ],
)
def test_bad_calls_become_failed_results_not_exceptions(
    name: str, arguments: str, message: str
) -> None:
    registry = ToolRegistry()
    registry.register(spec("add", add, parameters=NUMBER_SCHEMA))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("call_x", name, arguments)
        assert h.results == []  # delivered later, never from inside start()
        [result] = await h.wait_results(1)
        assert result.status is ToolStatus.FAILED
        assert json.loads(result.output) == {"status": "error", "error": message}
        assert [e.status for e in h.events] == [ToolStatus.RUNNING, ToolStatus.FAILED]

    run(scenario())


def test_empty_arguments_mean_no_arguments() -> None:
    async def hello() -> str:
        return "hi"

    registry = ToolRegistry()
    registry.register(spec("hello", hello))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("c", "hello", "")
        [result] = await h.wait_results(1)
        assert (result.status, result.output) == (ToolStatus.DONE, "hi")

    run(scenario())


def test_handler_errors_are_reported_safely() -> None:
    async def bad_input() -> str:
        raise ValueError("I can't divide by zero.")

    async def crash() -> str:
        raise RuntimeError("secret-token-123 leaked?")

    registry = ToolRegistry()
    registry.register(spec("bad_input", bad_input))
    registry.register(spec("crash", crash))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("c1", "bad_input", "{}")
        h.runner.start("c2", "crash", "{}")
        results = {r.call_id: r for r in await h.wait_results(2)}
        assert json.loads(results["c1"].output)["error"] == "I can't divide by zero."
        assert "secret" not in results["c2"].output
        assert json.loads(results["c2"].output)["error"] == "internal error (RuntimeError)"
        assert {r.status for r in results.values()} == {ToolStatus.FAILED}

    run(scenario())


def test_timeout_fails_the_call() -> None:
    async def forever() -> str:
        await asyncio.Event().wait()
        return "never"

    registry = ToolRegistry()
    registry.register(spec("forever", forever, interruptible=False))

    async def scenario() -> None:
        h = Harness(registry, timeout_s=0.05)
        h.runner.start("c", "forever", "{}")
        [result] = await h.wait_results(1)
        assert result.status is ToolStatus.FAILED
        assert "timed out" in json.loads(result.output)["error"]

    run(scenario())


def test_barge_in_cancels_only_interruptible_calls() -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def slow(label: str) -> str:
        started.append(label)
        await release.wait()
        return f"finished {label}"

    params = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    registry = ToolRegistry()
    registry.register(spec("search", slow, parameters=params, interruptible=True))
    registry.register(spec("send", slow, parameters=params, interruptible=False, idempotent=False))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("c_search", "search", '{"label": "s"}')
        h.runner.start("c_send", "send", '{"label": "m"}')
        async with asyncio.timeout(5):
            while len(started) < 2:
                await asyncio.sleep(0)
        assert h.runner.is_interruptible("c_search") and not h.runner.is_interruptible("c_send")
        assert h.runner.cancel_interruptible() == ["c_search"]
        # The cancelled output is reported before cancel_interruptible returns.
        assert h.results == [
            ToolResult("c_search", "search", CANCELLED_OUTPUT, ToolStatus.CANCELLED, False)
        ]
        assert json.loads(CANCELLED_OUTPUT) == {"status": "cancelled", "reason": "user interrupted"}
        assert h.runner.running() == ["c_send"]
        release.set()
        results = await h.wait_results(2)
        assert results[1] == ToolResult("c_send", "send", "finished m", ToolStatus.DONE, False)
        # Let the cancelled task unwind: it must not report a second time.
        await asyncio.sleep(0)
        assert len(h.results) == 2
        assert [e.status for e in h.events if e.call_id == "c_search"] == [
            ToolStatus.RUNNING,
            ToolStatus.CANCELLED,
        ]

    run(scenario())


def test_stale_result_is_recorded_but_flagged() -> None:
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "late answer"

    registry = ToolRegistry()
    registry.register(spec("slow", slow, interruptible=False))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("c1", "slow", "{}")
        h.runner.mark_stale(["c1", "unknown"])
        release.set()
        [result] = await h.wait_results(1)
        assert result == ToolResult("c1", "slow", "late answer", ToolStatus.DONE, True)

    run(scenario())


def test_a_call_is_never_run_twice() -> None:
    calls: list[str] = []

    async def effect(text: str) -> str:
        calls.append(text)
        return "ok"

    params = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    registry = ToolRegistry()
    registry.register(spec("effect", effect, parameters=params, idempotent=False))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("c1", "effect", '{"text": "x"}')
        h.runner.start("c1", "effect", '{"text": "x"}')
        await h.wait_results(1)
        h.runner.start("c1", "effect", '{"text": "x"}')
        await asyncio.sleep(0)
        assert calls == ["x"] and len(h.results) == 1

    run(scenario())


def test_failing_on_done_does_not_break_the_runner() -> None:
    registry = ToolRegistry()
    registry.register(spec("add", add, parameters=NUMBER_SCHEMA))
    seen: list[str] = []

    def on_done(result: ToolResult) -> None:
        seen.append(result.call_id)
        raise RuntimeError("consumer bug")

    async def scenario() -> None:
        runner = ToolRunner(registry, on_done)
        runner.start("c1", "add", '{"a": 1}')
        runner.start("c2", "add", '{"a": 2}')
        async with asyncio.timeout(5):
            while len(seen) < 2:
                await asyncio.sleep(0)

    run(scenario())
    assert seen == ["c1", "c2"]


def test_aclose_cancels_everything_once() -> None:
    async def forever() -> str:
        await asyncio.Event().wait()
        return "never"

    registry = ToolRegistry()
    registry.register(spec("forever", forever, interruptible=False))

    async def scenario() -> None:
        h = Harness(registry)
        h.runner.start("c1", "forever", "{}")
        await asyncio.sleep(0)
        h.runner.start("c2", "forever", "{}")  # cancelled before its first step
        await h.runner.aclose()
        assert sorted(r.call_id for r in h.results) == ["c1", "c2"]
        assert {r.status for r in h.results} == {ToolStatus.CANCELLED}
        assert h.runner.running() == []

    run(scenario())
