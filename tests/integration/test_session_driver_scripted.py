"""The session driver against a scripted WebSocket server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
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
from app.runtime.commands import Interrupt, PushToTalkPressed, PushToTalkReleased, SendText
from app.session.config import SessionConfig, TurnMode
from app.session.driver import SessionDriver
from app.session.states import State
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_server import Peer, ScriptedServer, wait_until
from tests.helpers.session_launch import FAST as BASE_FAST
from tests.helpers.session_launch import (
    Events,
    running_drivers,
    scripted_config,
    start_listening,
)

FAST = {**BASE_FAST, "response_timeout_s": 2.0}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


def make(server: ScriptedServer, **changes: Any) -> tuple[SessionDriver, FakePlayback, Events]:
    config = scripted_config(server.url, FAST, **changes)
    playback, events = FakePlayback(), Events()
    driver = SessionDriver(config, playback, events.append, auth=lambda: "sk-test-secret-123")
    return driver, playback, events


running = pytest.fixture(running_drivers, name="running")


def speak_ptt(driver: SessionDriver, ms: int = 300) -> None:
    driver.submit(PushToTalkPressed())
    for i in range(ms // 20):
        driver.submit(AudioChunk(b"\x00\x01" * 480, 24000, i * 480, 0.0))
    driver.submit(PushToTalkReleased())


def test_connects_with_bearer_auth_and_sends_session_update(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    driver, _, events = make(server)
    start_listening(driver, running)
    wait_until(lambda: "session.update" in server.types(), 3)
    assert server.headers[0]["Authorization"] == "Bearer sk-test-secret-123"
    assert "OpenAI-Beta" not in server.headers[0]  # GA clients must not send it
    assert events.of(ConnectionChanged)[-1].state is ConnectionState.CONNECTED
    assert "sk-test" not in repr(driver._config) and all("sk-test" not in repr(e) for e in events)


def test_push_to_talk_turn_commits_then_creates_and_plays(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    driver, playback, _ = make(server, turn_mode=TurnMode.PUSH_TO_TALK)
    start_listening(driver, running)
    speak_ptt(driver)
    wait_until(lambda: driver.fsm_state is State.TAIL, 5, "answer received")
    types = server.types()
    assert types.index("input_audio_buffer.clear") < types.index("input_audio_buffer.append")
    assert (
        types.index("input_audio_buffer.append")
        < types.index("input_audio_buffer.commit")
        < types.index("response.create")
    )
    assert sum(1 for n, _ in playback.calls if n == "enqueue") == server.knobs.chunks


def test_push_to_talk_under_100ms_is_discarded_with_a_notice(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    driver, _, events = make(server, turn_mode=TurnMode.PUSH_TO_TALK)
    start_listening(driver, running)
    speak_ptt(driver, ms=40)
    wait_until(lambda: len(server.of_type("input_audio_buffer.clear")) == 2, 3)
    assert (
        "input_audio_buffer.commit" not in server.types()
        and "response.create" not in server.types()
    )
    assert any(n.category is NoticeCategory.TURN for n in events.of(UserNotice))


def test_barge_in_mid_answer_flushes_cancels_and_truncates_at_heard_ms(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    server.knobs = dataclasses.replace(server.knobs, chunks=50, pace_s=0.02)
    driver, playback, _ = make(server, turn_mode=TurnMode.PUSH_TO_TALK)
    start_listening(driver, running)
    driver.submit(SendText("tell me a story"))
    wait_until(lambda: sum(1 for n, _ in playback.calls if n == "enqueue") >= 5, 5, "audio")
    playback.played = 230.6
    driver.submit(Interrupt())
    wait_until(lambda: driver.fsm_state is State.LISTENING, 5, "cancelled done")
    assert playback.names()[:2] == ["flush", "mark_stale"]
    assert len(server.of_type("response.cancel")) == 1
    truncate = server.of_type("conversation.item.truncate")
    assert len(truncate) == 1 and truncate[0]["audio_end_ms"] == 230
    assert not [e for e in server.received if e["type"] == "error"]


def test_pitfall_1_truncate_clamped_to_received_audio(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    server.knobs = dataclasses.replace(server.knobs, chunks=50, pace_s=0.02)
    driver, playback, _ = make(server)
    start_listening(driver, running)
    driver.submit(SendText("go"))
    wait_until(lambda: sum(1 for n, _ in playback.calls if n == "enqueue") >= 3, 5)
    playback.played = 10_000_000.0  # a wall-clock estimate far ahead of the bytes
    driver.submit(Interrupt())
    wait_until(lambda: bool(server.of_type("conversation.item.truncate")), 3)
    end = server.of_type("conversation.item.truncate")[0]["audio_end_ms"]
    assert 0 < end <= 50 * 100 and end % 100 == 0
    wait_until(lambda: driver.fsm_state is State.LISTENING, 3)
    assert driver.server_errors == {}


def test_pitfall_2_no_truncate_before_the_first_frame_played(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    server.knobs = dataclasses.replace(server.knobs, chunks=50, pace_s=0.02)
    driver, playback, _ = make(server)
    start_listening(driver, running)
    driver.submit(SendText("go"))
    wait_until(lambda: any(n == "enqueue" for n, _ in playback.calls), 5)
    playback.played = 0.0
    driver.submit(Interrupt())
    wait_until(lambda: driver.fsm_state is State.LISTENING, 3)
    assert server.of_type("conversation.item.truncate") == []
    assert len(server.of_type("response.cancel")) == 1


def test_pitfall_3_no_truncate_when_everything_was_heard(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    driver, playback, _ = make(server)
    start_listening(driver, running)
    driver.submit(SendText("short"))
    wait_until(lambda: driver.fsm_state is State.TAIL, 5)
    driver.submit(Interrupt())  # everything queued counts as played by default
    wait_until(lambda: driver.fsm_state is State.LISTENING, 3)
    assert server.of_type("conversation.item.truncate") == []
    assert server.of_type("response.cancel") == []  # pitfall 5: response already done


def test_pitfall_4_next_response_waits_for_the_cancelled_done(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    server.knobs = dataclasses.replace(server.knobs, chunks=50, pace_s=0.02)
    driver, playback, _ = make(server)
    start_listening(driver, running)
    driver.submit(SendText("first"))
    wait_until(lambda: any(n == "enqueue" for n, _ in playback.calls), 5)
    driver.submit(SendText("second"))  # barge-in by a typed turn
    wait_until(lambda: len(server.of_type("response.create")) == 2, 5)
    wait_until(lambda: driver.fsm_state in (State.TAIL, State.SPEAKING), 5)
    assert driver.server_errors["conversation_already_has_active_response"] == 0
    types = server.types()
    assert types.index("response.cancel") < len(types) - 1 - types[::-1].index("response.create")


def test_pitfall_5_server_vad_barge_in_sends_no_cancel(running: list[SessionDriver]) -> None:
    async def handler(peer: Peer) -> None:
        await peer.session_created()
        await peer.recv_until("session.update")
        base = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}
        await peer.send(
            {
                "type": "response.created",
                "response": {
                    "id": "resp_1",
                    "object": "realtime.response",
                    "status": "in_progress",
                    "output": [],
                },
            }
        )
        for _ in range(3):
            await peer.send({"type": "response.output_audio.delta", **base, "delta": "AAAA" * 800})
        await peer.send(
            {"type": "input_audio_buffer.speech_started", "item_id": "item_u", "audio_start_ms": 10}
        )
        await peer.send(
            {"type": "response.output_audio.delta", **base, "delta": "AAAA" * 800}
        )  # late delta
        await peer.send(
            {
                "type": "response.done",
                "response": {
                    "id": "resp_1",
                    "status": "cancelled",
                    "status_details": {"type": "cancelled", "reason": "turn_detected"},
                    "output": [],
                },
            }
        )
        await peer.drain()

    with ScriptedServer(handler) as srv:
        driver, playback, _ = make(srv)
        playback.played = 150.0
        running.append(driver)
        driver.start()
        wait_until(lambda: driver.fsm_state is State.USER_SPEAKING, 5, "server barge-in handled")
        wait_until(lambda: bool(srv.of_type("conversation.item.truncate")), 3)
        assert srv.of_type("response.cancel") == []
        assert srv.of_type("conversation.item.truncate")[0]["audio_end_ms"] == 150
        assert sum(1 for n, _ in playback.calls if n == "enqueue") == 3
        assert driver.late_deltas_dropped == 1


def test_false_interruption_ducks_then_resumes(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    from app.events import SpeechStarted, SpeechStopped

    server.knobs = dataclasses.replace(server.knobs, chunks=100, pace_s=0.02)
    driver, playback, _ = make(server, min_interruption_ms=5000)
    start_listening(driver, running)
    driver.submit(SendText("go"))
    wait_until(lambda: any(n == "enqueue" for n, _ in playback.calls), 5)
    driver.submit(SpeechStarted(0, 0.0))
    driver.submit(SpeechStopped(10, 0.1))
    wait_until(lambda: "resume" in playback.names(), 3)
    assert playback.names() == ["duck", "resume"]
    assert server.of_type("response.cancel") == []


def test_close_1001_mid_answer_reconnects_and_replays_context(running: list[SessionDriver]) -> None:
    from app.session.context import ContextPolicy

    with ScriptedServer() as srv:
        srv.knobs = dataclasses.replace(srv.knobs, close_after_chunks=(2, 1001))
        config = SessionConfig(provider="test", url=srv.url, **FAST)
        playback, events = FakePlayback(), Events()
        driver = SessionDriver(
            config, playback, events.append, auth=lambda: None, context=ContextPolicy(4)
        )
        running.append(driver)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5)
        driver.submit(SendText("go"))
        wait_until(
            lambda: len(srv.peers) == 2 and driver.state is AssistantState.LISTENING,
            5,
            "reconnected",
        )
        assert playback.names()[0] == "flush"
        states = [e.state for e in events.of(ConnectionChanged)]
        assert ConnectionState.RECONNECTING in states and states[-1] is ConnectionState.CONNECTED
        wait_until(lambda: len(srv.peers[1].received) >= 2, 3)
        replay = [e for e in srv.peers[1].received if e["type"] == "conversation.item.create"]
        assert [e["item"]["role"] for e in replay] == ["user"]
        assert replay[0]["item"]["content"] == [{"type": "input_text", "text": "go"}]
        assert "Authorization" not in srv.headers[0]


def test_auth_failure_401_is_permanent_with_notice_and_no_retry_storm(
    running: list[SessionDriver],
) -> None:
    with ScriptedServer(reject=lambda i: 401) as srv:
        driver, _, events = make(srv)
        running.append(driver)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.FAILED, 5)
        notices = events.of(UserNotice)
        assert len(notices) == 1 and notices[0].category is NoticeCategory.AUTHENTICATION
        assert notices[0].action == "open_settings" and "sk-test" not in notices[0].text
        threading.Event().wait(0.3)
        assert srv.attempts == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limit_and_server_errors_retry_with_backoff(
    status: int, running: list[SessionDriver]
) -> None:
    with ScriptedServer(reject=lambda i: status if i < 3 else None) as srv:
        driver, _, events = make(srv)
        running.append(driver)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5)
        assert srv.attempts == 4
        gaps = [b - a for a, b in zip(srv.attempt_times, srv.attempt_times[1:], strict=False)]
        assert all(g > 0.005 for g in gaps)  # never a tight loop
        assert not events.of(UserNotice)


def test_server_that_never_answers_the_handshake_times_out_and_retries(
    running: list[SessionDriver],
) -> None:
    with ScriptedServer(hang_handshake=True) as srv:
        driver, _, _ = make(srv, connect_timeout_s=0.2, max_retries=1)
        running.append(driver)
        driver.start()
        wait_until(lambda: driver.state is AssistantState.FAILED, 5)
        assert srv.attempts == 2


def test_server_that_never_answers_response_create_times_out(
    server: ScriptedServer, running: list[SessionDriver]
) -> None:
    server.knobs = dataclasses.replace(server.knobs, never_create=True)
    driver, _, _ = make(server, response_timeout_s=0.3)
    start_listening(driver, running)
    driver.submit(SendText("anyone?"))
    wait_until(lambda: len(server.peers) == 2, 5, "reconnect after the response timeout")


def test_slow_server_still_completes(server: ScriptedServer, running: list[SessionDriver]) -> None:
    server.knobs = dataclasses.replace(server.knobs, chunks=5, pace_s=0.15)
    driver, playback, _ = make(server)
    start_listening(driver, running)
    driver.submit(SendText("slowly"))
    wait_until(lambda: driver.fsm_state is State.TAIL, 5)
    assert sum(1 for n, _ in playback.calls if n == "enqueue") == 5


def test_malformed_and_oversized_frames_are_survived(running: list[SessionDriver]) -> None:
    async def handler(peer: Peer) -> None:
        await peer.session_created()
        await peer.send_raw("{broken")
        await peer.send_raw(
            '{"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", '
            '"delta": "%%%"}'
        )
        await peer.send_raw('{"type": "x", "pad": "' + "a" * 1500 + '"}')
        await peer.send_raw('{"type": "totally.unknown"}')
        await peer.drain()

    with ScriptedServer(handler) as srv:
        driver, _, _ = make(srv, max_frame_bytes=1000)
        start_listening(driver, running)
        wait_until(lambda: sum(driver.codec.malformed.values()) == 3, 3)
        assert driver.codec.unknown["totally.unknown"] == 1
        assert len(srv.peers) == 1 and driver.state is AssistantState.LISTENING


@pytest.mark.parametrize(
    ("onset_s", "evidence_s", "low", "high"),
    [
        # speech began 450 ms before the VAD decided: credited up to the 250 ms cap
        # (600 - 250 ms; not 150, not 600 ms)
        (0.45, None, 0.27, 0.45),
        # the meter's dating reaches 450 ms back, but the evidence only 50 ms: only that counts
        (0.45, 0.05, 0.5, 0.8),
    ],
    ids=["onset-credited-with-a-cap", "evidence-not-the-meters-dating"],
)
def test_interruption_length_counts_from_the_speech_evidence_not_the_vad_decision(
    server: ScriptedServer,
    running: list[SessionDriver],
    onset_s: float,
    evidence_s: float | None,
    low: float,
    high: float,
) -> None:
    """Speech that began before the VAD decided is credited from its evidence, capped."""
    import time

    from app.events import SpeechStarted

    server.knobs = dataclasses.replace(server.knobs, chunks=100, pace_s=0.02)
    driver, playback, _ = make(server, min_interruption_ms=600)
    start_listening(driver, running)
    driver.submit(SendText("go"))
    wait_until(lambda: any(n == "enqueue" for n, _ in playback.calls), 5)
    decided = time.monotonic()
    evidence = None if evidence_s is None else decided - evidence_s
    driver.submit(SpeechStarted(0, decided - onset_s, evidence))
    wait_until(lambda: "flush" in playback.names(), 3)
    confirmed_after = time.monotonic() - decided
    assert playback.names()[:2] == ["duck", "flush"]
    assert low <= confirmed_after < high
