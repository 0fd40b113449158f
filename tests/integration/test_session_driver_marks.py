"""The driver's latency marks, context replay and deletes, uplink drops, renewal and offline input.

All against a scripted WebSocket server on 127.0.0.1; the playback side is a fake whose DAC
times the test chooses, so each mark can be checked against the clock it must come from.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
from typing import Any

import pytest
import websockets
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from app.events import (
    AssistantState,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    NoticeCategory,
    PlaybackDrained,
    UserNotice,
)
from app.runtime.commands import Interrupt, PushToTalkPressed, PushToTalkReleased, SendText
from app.session.config import SessionConfig, TurnMode
from app.session.context import ContextPolicy
from app.session.driver import SessionDriver
from app.session.states import State
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_server import Peer, ScriptedServer, wait_until
from tests.helpers.session_launch import FAST, running_drivers, scripted_config, start_listening

CHUNK_BYTES = 960  # 20 ms at 24 kHz
CLIENT = TypeAdapter(RealtimeClientEvent)


class Meter:
    """Records marks as (turn, name) → time, first one wins (as LatencyMeter does)."""

    def __init__(self) -> None:
        self.marks: dict[tuple[str, str], float] = {}

    def mark(self, turn_id: str, name: str, t: float) -> None:
        self.marks.setdefault((turn_id, name), t)

    def turn(self, turn_id: str) -> dict[str, float]:
        return {name: t for (turn, name), t in self.marks.items() if turn == turn_id}


running = pytest.fixture(running_drivers, name="running")


def launch(
    running: list[SessionDriver], srv: ScriptedServer, **changes: Any
) -> tuple[SessionDriver, FakePlayback, Meter, list[object]]:
    context = changes.pop("context", None)
    config = scripted_config(srv.url, **changes)
    playback, meter, events = FakePlayback(), Meter(), []
    driver = SessionDriver(
        config, playback, events.append, lambda: None, context=context, meter=meter
    )
    start_listening(driver, running, "connected")
    return driver, playback, meter, events


def chunk(i: int, base: float) -> AudioChunk:
    return AudioChunk(bytes([i % 256]) * CHUNK_BYTES, 24000, i * 480, base + i * 0.02)


def test_push_to_talk_turn_marks_every_moment_on_its_own_clock(
    running: list[SessionDriver],
) -> None:
    with ScriptedServer() as srv:
        driver, playback, meter, _ = launch(running, srv, turn_mode=TurnMode.PUSH_TO_TALK)
        playback.onset_value = time.monotonic() + 0.5  # the DAC time the fake reports
        pressed = time.monotonic()
        driver.submit(PushToTalkPressed())
        for i in range(10):
            driver.submit(chunk(i, 1000.0))
        wait_until(lambda: bool(srv.of_type("input_audio_buffer.append")), 3, "uplink")
        released_before = time.monotonic()
        driver.submit(PushToTalkReleased())
        wait_until(lambda: "onset" in meter.turn("turn-1"), 5, "onset polled")
        marks = meter.turn("turn-1")
        assert marks["capture"] == 1000.0  # captured_at of the turn's first chunk
        assert pressed < marks["uplink_sent"] < released_before + 1.0
        assert released_before <= marks["speech_end"] <= marks["first_audio"]
        assert marks["onset"] == playback.onset_value
        assert "bargein" not in marks and "silence" not in marks


@pytest.mark.parametrize("offset_s", [-0.03, 5.0], ids=["key-up-earlier", "future-clamped"])
def test_push_to_talk_release_dates_the_end_of_speech_to_the_key_going_up(
    running: list[SessionDriver], offset_s: float
) -> None:
    """The GUI posts Space's release late (an auto-repeat grace) with when the key went up."""
    with ScriptedServer() as srv:
        driver, _playback, meter, _ = launch(running, srv, turn_mode=TurnMode.PUSH_TO_TALK)
        driver.submit(PushToTalkPressed())
        for i in range(10):
            driver.submit(chunk(i, 1000.0))
        wait_until(lambda: bool(srv.of_type("input_audio_buffer.append")), 3, "uplink")
        key_up = time.monotonic() + offset_s
        driver.submit(PushToTalkReleased(at=key_up))
        wait_until(lambda: "speech_end" in meter.turn("turn-1"), 5, "speech end marked")
        speech_end = meter.turn("turn-1")["speech_end"]
        if offset_s < 0:
            assert speech_end == key_up
        else:  # a date after the command arrived cannot be true: it is "now"
            assert key_up - offset_s <= speech_end <= time.monotonic()


def _interrupt_a_story(
    running: list[SessionDriver], last_audible_s: float
) -> tuple[dict[str, float], float, float]:
    """Interrupt a streaming answer whose last audible sample leaves the DAC ``last_audible_s``
    after the press (negative: before it); returns the turn's marks, the press and the fake's
    last-audible time."""
    with ScriptedServer() as srv:
        srv.knobs = dataclasses.replace(srv.knobs, chunks=50, pace_s=0.02)
        driver, playback, meter, _ = launch(running, srv)
        playback.onset_value = time.monotonic() + 0.01  # the DAC time the fake reports
        driver.submit(SendText("tell me a story"))
        wait_until(lambda: len(playback.queued) == 1, 5, "audio")
        before = time.monotonic()
        playback.last = before + last_audible_s
        driver.submit(Interrupt())
        wait_until(lambda: "silence" in meter.turn("turn-1"), 5, "silence polled")
        return meter.turn("turn-1"), before, playback.last


def test_barge_in_marks_trigger_time_and_the_last_sample_after_the_flush(
    running: list[SessionDriver],
) -> None:
    marks, before, last = _interrupt_a_story(running, 0.03)  # the fade ends 30 ms later
    assert before <= marks["bargein"] <= time.monotonic()
    assert marks["silence"] == last
    assert set(marks) >= {"speech_end", "first_audio", "onset"}


def test_a_barge_in_on_an_answer_already_silent_took_no_time(
    running: list[SessionDriver],
) -> None:
    """Cut in a pause between words: the speaker was silent from the press on, not the flush."""
    marks, before, _last = _interrupt_a_story(running, -0.3)
    assert before <= marks["bargein"] == marks["silence"]


def test_server_vad_marks_map_audio_ms_back_to_capture_times(
    running: list[SessionDriver],
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.session_created()
        received = 0
        while received < 60 * CHUNK_BYTES:
            event = await peer.recv()
            if event["type"] == "input_audio_buffer.append":
                received += len(base64.b64decode(event["audio"]))
        await peer.send(
            {"type": "input_audio_buffer.speech_started", "item_id": "u", "audio_start_ms": 210}
        )
        await peer.send(
            {"type": "input_audio_buffer.speech_stopped", "item_id": "u", "audio_end_ms": 905}
        )
        await peer.drain()

    with ScriptedServer(handler) as srv:
        driver, _, meter, _ = launch(running, srv)
        for i in range(60):
            driver.submit(chunk(i, 500.0))
        wait_until(lambda: "speech_end" in meter.turn("turn-1"), 5, "speech stopped")
        marks = meter.turn("turn-1")
        assert marks["capture"] == pytest.approx(500.2)  # the chunk holding 210 ms
        # 905 ms is when the server decided: 500 ms of silence after the user stopped
        assert marks["speech_end"] == pytest.approx(500.405)
        assert marks["uplink_sent"] > 0 and driver.fsm_state is State.THINKING


class ConversationScript:
    """Echoes items back with ids, answers every response with audio and an assistant item.

    With ``close_on_deletes`` set, the connection is closed with 1001 once that many
    ``conversation.item.delete`` events arrived and the response in flight is done.
    """

    def __init__(self) -> None:
        self.close_on_deletes: int | None = None
        self.deletes = 0
        self.responses = 0

    async def __call__(self, peer: Peer) -> None:
        await peer.session_created()
        while True:
            try:
                event = await peer.recv(timeout=3600)
            except (websockets.ConnectionClosed, TimeoutError):
                return
            if event["type"] == "conversation.item.create":
                item = {**event["item"], "id": f"it{peer.index}_{len(peer.received)}"}
                await peer.send({"type": "conversation.item.done", "item": item})
            elif event["type"] == "conversation.item.delete":
                self.deletes += 1
                await peer.send({"type": "conversation.item.deleted", "item_id": event["item_id"]})
            elif event["type"] == "response.create":
                self.responses += 1
                await self._respond(peer, f"r{self.responses}")
            if self.close_on_deletes is not None and self.deletes >= self.close_on_deletes:
                if self.responses == 2:
                    self.close_on_deletes = None
                    await peer.close(1001, "session limit")
                    return

    async def _respond(self, peer: Peer, rid: str) -> None:
        text = f"answer {rid}"
        base = {"response_id": rid, "item_id": f"a_{rid}", "output_index": 0, "content_index": 0}
        await peer.send({"type": "response.created", "response": {"id": rid, "output": []}})
        await peer.send({"type": "response.output_audio.delta", **base, "delta": "AAAA" * 100})
        await peer.send(
            {"type": "response.output_audio_transcript.done", **base, "transcript": text}
        )
        item = {
            "id": f"a_{rid}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": text}],
        }
        await peer.send({"type": "conversation.item.done", "item": item})
        await peer.send({"type": "response.done", "response": {"id": rid, "status": "completed"}})


def test_old_turns_are_deleted_and_kept_turns_replayed_as_ga_items_on_reconnect(
    running: list[SessionDriver],
) -> None:
    script = ConversationScript()
    with ScriptedServer(script) as srv:
        driver, playback, _, _ = launch(running, srv, context=ContextPolicy(1))
        driver.submit(SendText("first question"))
        wait_until(lambda: script.responses == 1 and driver.fsm_state is State.TAIL, 5)
        script.close_on_deletes = 2
        driver.submit(SendText("second question"))
        wait_until(lambda: len(srv.peers) == 2 and driver.state is AssistantState.LISTENING, 5)
        first = srv.peers[0].received
        deleted = [e["item_id"] for e in first if e["type"] == "conversation.item.delete"]
        user_1 = next(
            e for e in first if e["type"] == "conversation.item.create" and "first" in str(e)
        )
        assert len(deleted) == 2 and deleted[1] == "a_r1"  # turn 1: its user and assistant item
        assert deleted[0].startswith("it0_") and user_1 is not None
        wait_until(lambda: len(srv.peers[1].received) >= 3, 3, "replay")
        replay = [e for e in srv.peers[1].received if e["type"] == "conversation.item.create"]
        assert [(e["item"]["role"], e["item"]["content"][0]) for e in replay] == [
            ("user", {"type": "input_text", "text": "second question"}),
            ("assistant", {"type": "output_text", "text": "answer r2"}),
        ]
        for event in replay:
            CLIENT.validate_python(event)
        assert srv.peers[1].received[0]["type"] == "session.update"  # configure, then replay


def test_forced_uplink_overflow_drops_the_oldest_chunks_and_counts_them(
    running: list[SessionDriver],
) -> None:
    with ScriptedServer() as srv:
        driver, _, _, _ = launch(running, srv, uplink_queue_chunks=5, uplink_batch_ms=20)
        loop = driver._loop
        assert loop is not None
        gate, blocked = threading.Event(), threading.Event()

        def hold() -> None:  # keeps the loop busy while the chunks pile up
            blocked.set()
            gate.wait(5)

        loop.call_soon_threadsafe(hold)
        assert blocked.wait(5)
        for i in range(12):
            driver.submit(chunk(i, 0.0))
        gate.set()
        wait_until(lambda: len(srv.of_type("input_audio_buffer.append")) == 5, 5, "appends")
        sent = [base64.b64decode(e["audio"])[0] for e in srv.of_type("input_audio_buffer.append")]
        assert sent == [7, 8, 9, 10, 11]  # the newest five; 0..6 were dropped
        assert driver.uplink_dropped == 7


def test_session_is_renewed_in_advance_while_idle(running: list[SessionDriver]) -> None:
    with ScriptedServer(ConversationScript()) as srv:
        driver, _, _, events = launch(running, srv, renew_after_s=0.3, context=ContextPolicy(4))
        driver.submit(SendText("remember this"))
        wait_until(lambda: driver.fsm_state is State.TAIL, 5, "answered")
        assert len(srv.peers) == 1  # never renewed while the answer is still playing
        driver.submit(PlaybackDrained(None, time.monotonic()))
        wait_until(lambda: len(srv.peers) >= 2, 5, "renewed")
        wait_until(lambda: driver.state is AssistantState.LISTENING, 5)
        assert not [e for e in events if isinstance(e, UserNotice)]
        states = [e.state for e in events if isinstance(e, ConnectionChanged)]
        assert ConnectionState.FAILED not in states and ConnectionState.RECONNECTING not in states
        wait_until(lambda: len(srv.peers[1].received) >= 2, 3, "replay")
        replayed = [e for e in srv.peers[1].received if e["type"] == "conversation.item.create"]
        assert replayed[0]["item"]["content"][0]["text"] == "remember this"


def test_text_and_push_to_talk_while_connecting_give_a_notice() -> None:
    with ScriptedServer(hang_handshake=True) as srv:
        config = SessionConfig(provider="test", url=srv.url, **{**FAST, "connect_timeout_s": 5})
        events: list[object] = []
        driver = SessionDriver(config, FakePlayback(), events.append, lambda: None)
        driver.start()
        try:
            wait_until(lambda: srv.attempts == 1, 5, "connecting")
            driver.submit(SendText("hello?"))
            driver.submit(PushToTalkPressed())
            wait_until(lambda: sum(isinstance(e, UserNotice) for e in events) == 2, 3)
            notices = [e for e in events if isinstance(e, UserNotice)]
            assert all(n.category is NoticeCategory.CONNECTIVITY for n in notices)
            assert "typed text was not sent" in notices[0].text
            assert driver.fsm_state is State.CONNECTING
        finally:
            began = time.monotonic()
            assert driver.stop(5.0)
        assert time.monotonic() - began < 3.0  # the pending connect is cancelled, not awaited
