"""The session driver speaking Gemini Live to a scripted server on 127.0.0.1.

Push-to-talk and hands-free turns, server interruption with the heard-text note instead of a
truncate, a tool call and its cancellation, goAway with session resumption, a settings change
applied by a resumed connection, and an auth failure (close code) that ends in one notice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from app.events import (
    AssistantState,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    NoticeCategory,
    UserNotice,
)
from app.log import redact
from app.runtime.commands import PushToTalkPressed, PushToTalkReleased, SendText, SetTurnMode
from app.session.config import SessionConfig, TurnMode
from app.session.driver import SessionDriver
from app.session.states import State
from app.session.tools import ToolRegistry, ToolRunner, ToolSpec
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_gemini import GeminiKnobs, GeminiScript
from tests.helpers.scripted_server import ScriptedServer, wait_until
from tests.helpers.session_launch import FAST as BASE_FAST
from tests.helpers.session_launch import Events, running_drivers, start_listening

SECRET = "AIzaSy-test-secret-0123456789"
FAST = {**BASE_FAST, "response_timeout_s": 3.0}
CHUNK = b"\x00\x01" * 320  # 20 ms at 16 kHz


class Probe:
    """A registered tool whose completion the test controls."""

    def __init__(self, interruptible: bool = True) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.interruptible = interruptible

    async def handler(self, x: int) -> dict[str, Any]:
        self.started.set()
        while not self.release.is_set():
            await asyncio.sleep(0.005)
        return {"value": x + 1}

    def factory(self) -> Callable[[Callable[..., None]], tuple[ToolRunner, list[dict[str, Any]]]]:
        registry = ToolRegistry()
        schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
        spec = ToolSpec("probe", "Test probe.", schema, self.handler, True, self.interruptible)
        registry.register(spec)
        return lambda on_done: (ToolRunner(registry, on_done, timeout_s=10), registry.schemas())


running = pytest.fixture(running_drivers, name="running")


def start(
    srv: ScriptedServer,
    running: list[SessionDriver],
    probe: Probe | None = None,
    **changes: Any,
) -> tuple[SessionDriver, FakePlayback, Events]:
    config = SessionConfig(
        provider="gemini",
        url=f"ws://127.0.0.1:{srv.port}/ws/BidiGenerateContent",
        model="gemini-2.5-flash-native-audio-preview-12-2025",
        input_sample_rate=16000,
        **{**FAST, **changes},
    )
    playback, events = FakePlayback(), Events()
    tools = probe.factory() if probe is not None else None
    driver = SessionDriver(config, playback, events.append, auth=lambda: SECRET, tools=tools)
    start_listening(driver, running)
    return driver, playback, events


def speak(driver: SessionDriver, ms: int) -> None:
    for i in range(ms // 20):
        driver.submit(AudioChunk(CHUNK, 16000, i * 320, 0.0))


def enqueued(playback: FakePlayback) -> int:
    return sum(1 for name, _ in list(playback.calls) if name == "enqueue")


def test_push_to_talk_turn(running: list[SessionDriver], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = GeminiScript()
    with ScriptedServer(script) as srv:
        driver, playback, events = start(srv, running, turn_mode=TurnMode.PUSH_TO_TALK)
        driver.submit(PushToTalkPressed())
        speak(driver, 300)
        driver.submit(PushToTalkReleased())
        wait_until(lambda: driver.fsm_state is State.TAIL, 5, "answer received")
    assert srv.headers[0]["x-goog-api-key"] == SECRET and "Authorization" not in srv.headers[0]
    labels = script.labels()
    assert labels[0] == "setup" and labels[1] == "realtimeInput.activityStart"
    assert labels[-1] == "realtimeInput.activityEnd"
    assert set(labels[2:-1]) == {"realtimeInput.audio"}
    assert script.setups[0]["realtimeInputConfig"]["automaticActivityDetection"]["disabled"]
    assert enqueued(playback) == script.knobs.chunks
    assert script.invalid == []
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("app.")]
    assert ours and all(SECRET not in line for line in ours)
    # websockets logs handshake headers at DEBUG; the app's log handlers redact them.
    assert SECRET in caplog.text and SECRET not in redact(caplog.text)
    assert all(SECRET not in repr(e) for e in events)
    assert driver.sent["realtimeInput.activityEnd"] == 1


def test_hands_free_turn_with_server_interruption(running: list[SessionDriver]) -> None:
    script = GeminiScript(GeminiKnobs(chunks=40, pace_s=0.03))
    with ScriptedServer(script) as srv:
        driver, playback, _ = start(srv, running)
        speak(driver, 300)  # server VAD: a turn
        wait_until(lambda: enqueued(playback) >= 4, 5, "answer audio")
        playback.played = 250.0  # the user heard 250 ms
        speak(driver, 200)  # talks over it: the server interrupts
        wait_until(lambda: playback.flushes == 1, 5, "flush on interrupted")
        wait_until(lambda: bool(script.of("clientContent")), 5, "heard-text note")
        note = script.of("clientContent")[0]["clientContent"]
        assert note["turnComplete"] is False
        text = note["turns"][0]["parts"][0]["text"]
        assert "They heard only" in text and "It is" in text and "fine today" not in text
        wait_until(lambda: driver.fsm_state is State.USER_SPEAKING, 5, "cut turn done")
        playback.played = None
        script.knobs.chunks, script.knobs.pace_s = 3, 0.0
        before = enqueued(playback)
        speak(driver, 300)  # the next turn is answered
        wait_until(lambda: driver.fsm_state is State.TAIL, 5, "second answer")
    assert enqueued(playback) - before == 3
    assert "realtimeInput.activityStart" not in script.labels()
    assert script.invalid == []


def test_tool_call_round_trip(running: list[SessionDriver]) -> None:
    script = GeminiScript(GeminiKnobs(tool_call=("probe", {"x": 41})))
    probe = Probe()
    probe.release.set()
    with ScriptedServer(script) as srv:
        driver, playback, _ = start(srv, running, probe, turn_mode=TurnMode.PUSH_TO_TALK)
        driver.submit(SendText("probe it"))
        wait_until(lambda: driver.fsm_state is State.TAIL, 5, "answer after the tool")
    [text] = script.of("clientContent")
    assert text["clientContent"]["turnComplete"] is True
    [reply] = script.of("toolResponse")
    assert reply["toolResponse"]["functionResponses"] == [
        {"id": "fc_1", "name": "probe", "response": {"output": {"value": 42}}}
    ]
    declarations = script.setups[0]["tools"][0]["functionDeclarations"]
    assert declarations[0]["name"] == "probe"
    assert enqueued(playback) == script.knobs.chunks
    assert script.invalid == []


def test_tool_call_cancellation_by_server_barge_in(running: list[SessionDriver]) -> None:
    script = GeminiScript(GeminiKnobs(tool_call=("probe", {"x": 1})))
    probe = Probe(interruptible=False)  # keeps running: its result must never be answered
    with ScriptedServer(script) as srv:
        driver, _, _ = start(srv, running, probe)
        speak(driver, 300)
        assert probe.started.wait(5)
        wait_until(lambda: driver.fsm_state is State.TOOL_RUNNING, 5, "tool running")
        speak(driver, 200)  # barge-in: interrupted + toolCallCancellation + turnComplete
        wait_until(lambda: driver.fsm_state is State.USER_SPEAKING, 5, "barged in")
        probe.release.set()
        wait_until(lambda: not driver.conversation.tools.runner.running(), 5, "tool ended")  # type: ignore[union-attr]
        assert driver.conversation.tools.started == ["fc_1"]
        assert driver.sent["toolResponse"] == 0
    assert script.of("toolResponse") == []  # withdrawn: no answer, nothing spoken for it
    assert script.invalid == []


def test_go_away_renews_with_the_resumption_handle(running: list[SessionDriver]) -> None:
    script = GeminiScript(GeminiKnobs(go_away="1s"))
    with ScriptedServer(script) as srv:
        driver, _, events = start(srv, running)
        wait_until(lambda: len(script.setups) == 2, 5, "second connection")
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening again")
    assert script.setups[0]["sessionResumption"] == {}
    assert script.setups[1]["sessionResumption"] == {"handle": "handle-0"}
    assert script.closed_at[0] <= script.setup_at[1]  # the old socket closed first (1011 else)
    assert "clientContent" not in script.labels(1)  # resumed: the server kept the context
    assert not [e for e in events.of(ConnectionChanged) if e.state is ConnectionState.FAILED]


def test_go_away_mid_answer_reconnects_before_the_deadline(running: list[SessionDriver]) -> None:
    # timeLeft 3.5 s: the driver leaves 3 s early, i.e. about 0.5 s in, while still speaking.
    knobs = GeminiKnobs(go_away="3.5s", go_away_on_answer=True, chunks=200, pace_s=0.05)
    script = GeminiScript(knobs)
    with ScriptedServer(script) as srv:
        driver, playback, events = start(srv, running)
        speak(driver, 300)
        wait_until(lambda: enqueued(playback) >= 1, 5, "answer started")
        assert len(script.setups) == 1 and driver.fsm_state is State.SPEAKING
        wait_until(lambda: len(script.setups) == 2, 5, "renewed mid-answer")
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5, "listening again")
    assert script.setups[1]["sessionResumption"] == {"handle": "handle-0"}
    assert script.closed_at[0] <= script.setup_at[1]
    assert playback.flushes >= 1  # the cut answer stopped at once
    states = [e.state for e in events.of(ConnectionChanged)]
    assert ConnectionState.RECONNECTING in states and ConnectionState.FAILED not in states


def test_settings_change_is_applied_by_a_resumed_setup(running: list[SessionDriver]) -> None:
    script = GeminiScript()
    with ScriptedServer(script) as srv:
        driver, _, _ = start(srv, running)
        wait_until(lambda: driver.codec.resumes, 5, "handle received")
        driver.submit(SetTurnMode("push_to_talk"))
        wait_until(lambda: len(script.setups) == 2, 5, "renewed")
    second = script.setups[1]
    assert second["realtimeInputConfig"]["automaticActivityDetection"] == {"disabled": True}
    assert second["sessionResumption"] == {"handle": "handle-0"}


def test_auth_failure_close_code_is_permanent_with_one_notice(
    running: list[SessionDriver],
) -> None:
    reason = "API key not valid. Please pass a valid API key."
    script = GeminiScript(GeminiKnobs(refuse_setup=(1007, reason)))
    with ScriptedServer(script) as srv:
        config_changes: dict[str, Any] = dict(max_retries=3)
        driver = SessionDriver(
            SessionConfig(
                provider="gemini", url=f"ws://127.0.0.1:{srv.port}/ws", **{**FAST, **config_changes}
            ),
            FakePlayback(),
            (events := Events()).append,
            auth=lambda: SECRET,
        )
        running.append(driver)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.FAILED, 5, "failed")
        attempts = srv.attempts
    notices = events.of(UserNotice)
    assert len(notices) == 1 and notices[0].category is NoticeCategory.AUTHENTICATION
    assert notices[0].action == "open_settings" and SECRET not in notices[0].text
    assert "API key not valid" in notices[0].text
    assert attempts == 1
