"""Unit checks behind the review follow-ups: typed turns drop speech, gone calls, crash notices."""

from __future__ import annotations

from pathlib import Path

from app.events import NoticeCategory, NoticeLevel, ToolStatus
from app.session import messages as m
from app.session.config import SessionConfig, TurnMode, VadKind
from app.session.errors import ErrorCategory, Failure, notice_for
from app.session.memory import Memory
from app.session.statemachine import step
from app.session.states import Act, Ev, State
from app.session.tool_calls import ToolCalls
from app.session.transcript_store import TranscriptStore
from app.session.turns import TurnTaker


def test_typed_turn_while_the_user_speaks_drops_that_speech_first() -> None:
    for state, after in (
        (State.USER_SPEAKING, State.THINKING),
        (State.INTERRUPTING, State.INTERRUPTED_TURN_ENDED),
    ):
        nxt, actions = step(state, Ev.TEXT_TURN)
        assert nxt is after
        assert actions[0] is Act.DROP_USER_SPEECH and Act.SEND_TEXT in actions


def test_crash_before_connecting_fails_and_notifies() -> None:
    assert step(State.DISCONNECTED, Ev.PERMANENT_FAILURE) == (State.FAILED, (Act.NOTIFY_FAILURE,))


def test_drop_speech_closes_the_local_vad_gate_until_the_next_start() -> None:
    config = SessionConfig(provider="test", turn_mode=TurnMode.HANDS_FREE, vad=VadKind.LOCAL)
    turns: TurnTaker[bytes] = TurnTaker(config, preroll_ms=0)
    turns.local_speech_started()
    assert turns.uplink(b"\x00" * 960) == [b"\x00" * 960]
    turns.drop_speech()
    assert turns.uplink(b"\x00" * 960) == []
    turns.local_speech_started()
    assert turns.uplink(b"\x01" * 960)[-1] == b"\x01" * 960


def test_internal_failure_notice_offers_reconnect() -> None:
    notice = notice_for(Failure(ErrorCategory.INTERNAL, "RuntimeError: boom"), "openai")
    assert ErrorCategory.INTERNAL.is_permanent
    assert notice.level is NoticeLevel.ERROR and notice.category is NoticeCategory.GENERAL
    assert notice.action == "reconnect" and "boom" in notice.text


class _Result:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.output = '{"value": 1}'
        self.status = ToolStatus.DONE
        self.stale = False


class _Runner:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.stale: list[str] = []
        self.cancelled = 0

    def start(self, call_id: str, name: str, arguments_json: str) -> None:
        self.calls.append(call_id)

    def cancel_interruptible(self) -> list[str]:
        self.cancelled += 1
        return []

    def mark_stale(self, call_ids: list[str]) -> None:
        self.stale += call_ids

    def running(self) -> list[str]:
        return list(self.calls)


def test_results_of_calls_from_a_closed_connection_are_recorded_not_sent() -> None:
    sent: list[m.ClientCommand] = []
    tools = ToolCalls(sent.append)
    runner = _Runner()
    tools.runner = runner
    tools.start("r1", "call_old", "probe", "{}")
    tools.connection_ended()
    assert runner.stale == ["call_old"] and runner.cancelled == 1
    tools.start("r2", "call_new", "probe", "{}")
    assert tools.on_result(_Result("call_old")) is False
    assert tools.on_result(_Result("call_new")) is True
    assert tools.dropped == ["call_old"] and sent == []
    assert [o.call_id for o in tools.take_outputs()] == ["call_new"]


def test_both_stores_write_through_wal_without_an_fsync_per_commit(tmp_path: Path) -> None:
    memory = Memory(tmp_path / "memory.sqlite3")
    store = TranscriptStore(tmp_path / "transcripts.sqlite3")
    try:
        for db in (memory._db, store._db):
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        memory.close()
        store.close()
