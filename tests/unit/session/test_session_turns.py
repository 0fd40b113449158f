"""Turn taking: push-to-talk gating and minimum length, hands-free mapping, local-VAD pre-roll."""

from __future__ import annotations

from app.session.config import ServerVadParams, SessionConfig, TurnMode, VadKind
from app.session.states import Ev
from app.session.turns import TurnEnd, TurnTaker

CHUNK = b"\x00\x00" * 480  # 20 ms at 24 kHz


def test_push_to_talk_sends_only_while_held_and_discards_short_turns() -> None:
    turns = TurnTaker(SessionConfig(turn_mode=TurnMode.PUSH_TO_TALK))
    assert turns.uplink(CHUNK) == []
    assert turns.ptt_pressed() is Ev.PTT_PRESSED
    assert turns.uplink(CHUNK) == [CHUNK] and turns.turn_ms() == 20
    assert turns.ptt_released() is Ev.PTT_TOO_SHORT
    assert turns.ptt_released() is None
    turns.ptt_pressed()
    for _ in range(5):
        turns.uplink(CHUNK)
    assert turns.ptt_released() is Ev.PTT_RELEASED
    assert turns.turn_end() == TurnEnd(commit=True, create_response=True)
    assert turns.local_speech_started() is None and turns.server_speech_started() is None
    assert turns.server_speech_stopped() is None and turns.local_speech_stopped() is None


def test_hands_free_server_vad_mapping() -> None:
    turns = TurnTaker(SessionConfig())
    assert turns.ptt_pressed() is Ev.INTERRUPT and turns.ptt_released() is None
    assert turns.server_speech_started() is Ev.SERVER_SPEECH_STARTED
    assert turns.server_speech_stopped() is Ev.SPEECH_STOPPED
    assert turns.local_speech_started() is Ev.VAD_SPEECH_STARTED
    assert turns.local_speech_stopped() is Ev.SPEECH_STOPPED
    assert turns.uplink(CHUNK) == [CHUNK]
    assert turns.turn_end() == TurnEnd(commit=False, create_response=False)
    manual = TurnTaker(
        SessionConfig(server_vad=ServerVadParams(create_response=False, interrupt_response=False))
    )
    assert manual.server_speech_started() is Ev.VAD_SPEECH_STARTED
    assert manual.turn_end() == TurnEnd(commit=False, create_response=True)
    semantic = TurnTaker(SessionConfig(vad=VadKind.SEMANTIC_VAD))
    assert semantic.server_speech_started() is Ev.SERVER_SPEECH_STARTED


def test_local_vad_gates_uplink_with_preroll_and_commits() -> None:
    turns = TurnTaker(SessionConfig(vad=VadKind.LOCAL), preroll_ms=40)
    chunks = [bytes([i]) * 960 for i in range(5)]
    for chunk in chunks:
        assert turns.uplink(chunk) == []
    assert turns.server_speech_started() is None and turns.server_speech_stopped() is None
    turns.local_speech_started()
    assert turns.uplink(b"x" * 960) == [chunks[3], chunks[4], b"x" * 960]
    turns.local_speech_stopped()
    assert turns.turn_end() == TurnEnd(commit=True, create_response=True)
    turns.muted = True
    assert turns.uplink(CHUNK) == []


def test_reconfigure_switches_mode_and_resets() -> None:
    turns = TurnTaker(SessionConfig())
    turns.reconfigure(SessionConfig(turn_mode=TurnMode.PUSH_TO_TALK))
    assert turns.push_to_talk and turns.config.turn_mode is TurnMode.PUSH_TO_TALK
    assert turns.ptt_released() is None
