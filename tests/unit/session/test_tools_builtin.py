import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app.events import ToolStatus
from app.session.builtin_tools import TimerService, register_builtin_tools
from app.session.memory import Memory
from app.session.tools import ToolRegistry, ToolResult, ToolRunner
from app.skills import SkillError, Timer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeScheduler:
    """Records wake-up requests instead of sleeping."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def __call__(self, delay: float, callback: Callable[[], None]) -> "FakeScheduler.Handle":
        self.requests.append((delay, callback))
        return FakeScheduler.Handle(self)

    class Handle:
        def __init__(self, owner: "FakeScheduler") -> None:
            self.owner = owner

        def cancel(self) -> None:
            self.owner.cancelled += 1


NOW = datetime(2025, 3, 4, 15, 5, tzinfo=timezone(timedelta(hours=1)))


def call(registry: ToolRegistry, name: str, arguments: dict[str, Any]) -> ToolResult:
    """Run one call through the real runner and return its result."""
    results: list[ToolResult] = []

    async def scenario() -> None:
        runner = ToolRunner(registry, results.append)
        runner.start("call_1", name, json.dumps(arguments))
        async with asyncio.timeout(5):
            while not results:
                await asyncio.sleep(0)

    asyncio.run(scenario())
    return results[0]


@pytest.fixture
def timers() -> tuple[TimerService, FakeClock, FakeScheduler, list[Timer]]:
    fired: list[Timer] = []
    clock = FakeClock()
    scheduler = FakeScheduler()
    return TimerService(fired.append, clock=clock, schedule=scheduler), clock, scheduler, fired


@pytest.fixture
def registry(tmp_path: Path, timers: tuple[TimerService, Any, Any, Any]) -> ToolRegistry:
    reg = ToolRegistry()
    memory = Memory(tmp_path / "m.db")
    register_builtin_tools(reg, timers=timers[0], memory=memory, now=lambda: NOW)
    yield reg  # type: ignore[misc]
    memory.close()


def test_registers_everything_when_given_dependencies(registry: ToolRegistry) -> None:
    assert registry.names() == [
        "get_time",
        "get_date",
        "calculate",
        "convert_units",
        "set_timer",
        "list_timers",
        "cancel_timer",
        "remember",
        "recall",
        "forget",
    ]


def test_registers_only_pure_tools_without_dependencies() -> None:
    reg = ToolRegistry()
    assert register_builtin_tools(reg) == ["get_time", "get_date", "calculate", "convert_units"]


def test_flags() -> None:
    reg = ToolRegistry()
    memory = Memory(":memory:")
    register_builtin_tools(reg, timers=TimerService(lambda t: None), memory=memory)
    memory.close()
    not_idempotent = {n for n in reg.names() if not reg.get(n).idempotent}  # type: ignore[union-attr]
    assert not_idempotent == {"set_timer", "cancel_timer", "forget"}


def test_time_and_date(registry: ToolRegistry) -> None:
    assert call(registry, "get_time", {}).output == "It's 3:05 PM."
    assert call(registry, "get_date", {}).output == "Today is Tuesday, March 4, 2025."


def test_calculate(registry: ToolRegistry) -> None:
    result = call(registry, "calculate", {"expression": "twelve times seven"})
    assert result.status is ToolStatus.DONE
    assert json.loads(result.output)["result"] == "84"
    failed = call(registry, "calculate", {"expression": "1/0"})
    assert failed.status is ToolStatus.FAILED
    assert json.loads(failed.output)["error"] == "I can't divide by zero."


def test_convert_units(registry: ToolRegistry) -> None:
    out = json.loads(
        call(registry, "convert_units", {"value": 10, "from_unit": "km", "to_unit": "mi"}).output
    )
    assert out == {"result": "6.214", "text": "10 kilometers is 6.214 miles."}
    bad = call(registry, "convert_units", {"value": "ten", "from_unit": "km", "to_unit": "mi"})
    assert bad.status is ToolStatus.FAILED and "must be number" in bad.output


def test_memory_tools(registry: ToolRegistry) -> None:
    saved = json.loads(call(registry, "remember", {"fact": "My sister is Ana"}).output)
    assert saved["status"] == "remembered"
    found = json.loads(call(registry, "recall", {"query": "sister"}).output)
    assert found == {"facts": [{"id": saved["id"], "text": "My sister is Ana"}]}
    assert json.loads(call(registry, "forget", {"query": "sister"}).output) == {"forgotten": 1}
    assert json.loads(call(registry, "recall", {}).output) == {"facts": []}


def test_timer_fires_through_callback_without_sleeping(
    registry: ToolRegistry, timers: tuple[TimerService, FakeClock, FakeScheduler, list[Timer]]
) -> None:
    service, clock, scheduler, fired = timers
    out = json.loads(
        call(registry, "set_timer", {"duration": "10 minutes", "label": "pasta"}).output
    )
    assert out["status"] == "set" and out["duration"] == "10 minutes"
    assert scheduler.requests[-1][0] == 600.0
    clock.now += 240
    listed = json.loads(call(registry, "list_timers", {}).output)
    assert listed == {"timers": [{"id": out["id"], "label": "pasta", "remaining": "6 minutes"}]}
    # An early wake-up (clock drift) fires nothing and re-arms for the rest.
    assert service.poll() == [] and scheduler.requests[-1][0] == 360.0
    clock.now += 360
    scheduler.requests[-1][1]()
    assert [t.label for t in fired] == ["pasta"]
    assert fired[0].announcement() == "Your pasta timer for 10 minutes is done."
    assert service.active() == []


def test_timers_fire_in_order_and_cancel(
    registry: ToolRegistry, timers: tuple[TimerService, FakeClock, FakeScheduler, list[Timer]]
) -> None:
    service, clock, scheduler, fired = timers
    service.start("5 minutes", "tea")
    service.start(60.0, "eggs")
    service.start("an hour", "roast")
    assert scheduler.requests[-1][0] == 60.0
    cancelled = json.loads(call(registry, "cancel_timer", {"which": "roast"}).output)
    assert cancelled == {"cancelled": ["the roast timer"]}
    missing = call(registry, "cancel_timer", {"which": "roast"})
    assert missing.status is ToolStatus.FAILED and "No single timer" in missing.output
    clock.now += 3600
    assert [t.label for t in service.poll()] == ["eggs", "tea"]
    assert [t.label for t in fired] == ["eggs", "tea"]
    service.close()


def test_timer_failing_announcement_does_not_stop_others(
    timers: tuple[TimerService, FakeClock, FakeScheduler, list[Timer]],
) -> None:
    _, clock, scheduler, _ = timers
    seen: list[str] = []

    def on_fire(timer: Timer) -> None:
        seen.append(timer.label)
        raise RuntimeError("speaker busy")

    service = TimerService(on_fire, clock=clock, schedule=scheduler)
    service.start(1.0, "a")
    service.start(1.0, "b")
    clock.now += 1
    service.poll()
    assert seen == ["a", "b"]


def test_bad_duration_is_a_skill_error(
    timers: tuple[TimerService, FakeClock, FakeScheduler, list[Timer]],
) -> None:
    with pytest.raises(SkillError):
        timers[0].start("soon")


def test_default_scheduler_uses_the_running_loop() -> None:
    fired: list[Timer] = []

    async def scenario() -> None:
        service = TimerService(fired.append)
        service.start(0.01, "quick")
        async with asyncio.timeout(5):
            while not fired:
                await asyncio.sleep(0.005)

    asyncio.run(scenario())
    assert [t.label for t in fired] == ["quick"]
