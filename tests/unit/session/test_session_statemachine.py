"""The barge-in state machine: completeness, reachability, golden scenarios, invariants."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.events import AssistantState
from app.session.response_gate import ResponseGate, truncate_at
from app.session.statemachine import IGNORED, TRANSITIONS, step
from app.session.states import Act, Ev, State, public_state

A = Act
E = Ev
S = State
PAIRS = [(s, e) for s in State for e in Ev]


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=lambda v: v.name)
def test_every_pair_is_in_exactly_one_of_table_or_ignored(state: State, event: Ev) -> None:
    assert ((state, event) in TRANSITIONS) != ((state, event) in IGNORED)


def test_ignored_pairs_change_nothing() -> None:
    for state, event in IGNORED:
        assert step(state, event) == (state, ())


def _reachable(start: State) -> set[State]:
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for (s, _), (nxt, _) in TRANSITIONS.items():
            if s is state and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def test_every_state_reachable_from_disconnected() -> None:
    assert _reachable(S.DISCONNECTED) == set(State)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_every_state_can_return_to_idle(state: State) -> None:
    reachable = _reachable(state)
    assert S.DISCONNECTED in reachable
    if state not in (S.DISCONNECTED, S.FAILED):
        assert S.LISTENING in reachable


def test_public_states_cover_the_gui_enum() -> None:
    assert {public_state(s) for s in State} == set(AssistantState)


def test_queue_playback_only_into_speaking_states() -> None:
    for (_, _), (nxt, actions) in TRANSITIONS.items():
        if A.QUEUE_PLAYBACK in actions:
            assert nxt in (S.SPEAKING, S.SPEAKING_DUCKED)


def test_cancel_never_sent_when_no_response_can_be_active_or_server_cancelled() -> None:
    for (state, event), (_, actions) in TRANSITIONS.items():
        if A.CANCEL_RESPONSE in actions:
            assert state in (S.RESPONDING, S.SPEAKING, S.SPEAKING_DUCKED, S.USER_SPEAKING)
            assert event is not E.SERVER_SPEECH_STARTED  # pitfall 5/6: the server cancelled
        if state in (S.TAIL, S.TAIL_DUCKED, S.TOOL_RUNNING):
            assert A.CANCEL_RESPONSE not in actions  # response.done already came


def run(events: list[Ev], start: State = S.LISTENING) -> tuple[State, list[Act]]:
    state = start
    out: list[Act] = []
    for event in events:
        state, actions = step(state, event)
        out.extend(actions)
    return state, out


def test_golden_barge_in_mid_sentence_by_ptt() -> None:
    state, actions = run(
        [
            E.PTT_PRESSED,
            E.PTT_RELEASED,
            E.RESPONSE_CREATED,
            E.AUDIO_RECEIVED,
            E.AUDIO_RECEIVED,
            E.PTT_PRESSED,
        ]
    )
    assert state is S.INTERRUPTING
    assert actions == [
        A.CLEAR_INPUT,
        A.END_USER_TURN,
        A.QUEUE_PLAYBACK,
        A.QUEUE_PLAYBACK,
        A.FLUSH_PLAYBACK,
        A.CANCEL_RESPONSE,
        A.TRUNCATE_ASSISTANT,
        A.REPAIR_CONTEXT,
        A.CLEAR_INPUT,
    ]
    state, actions = run([E.AUDIO_RECEIVED, E.PTT_RELEASED, E.RESPONSE_DONE], state)
    assert state is S.THINKING and actions == [A.END_USER_TURN]


def test_golden_server_vad_barge_in_never_cancels() -> None:
    state, actions = run([E.SERVER_SPEECH_STARTED], S.SPEAKING)
    assert state is S.INTERRUPTING
    assert actions == [A.FLUSH_PLAYBACK, A.TRUNCATE_ASSISTANT, A.REPAIR_CONTEXT]


def test_golden_barge_in_on_the_tail_after_response_done() -> None:
    state, actions = run([E.RESPONSE_DONE, E.PTT_PRESSED], S.SPEAKING)
    assert state is S.USER_SPEAKING
    assert actions == [A.FLUSH_PLAYBACK, A.TRUNCATE_ASSISTANT, A.REPAIR_CONTEXT, A.CLEAR_INPUT]


def test_golden_barge_in_before_any_audio() -> None:
    state, actions = run([E.RESPONSE_CREATED, E.INTERRUPT], S.THINKING)
    assert state is S.CANCELLING
    assert A.TRUNCATE_ASSISTANT not in actions and A.CANCEL_RESPONSE in actions
    assert run([E.RESPONSE_DONE], state)[0] is S.LISTENING
    # before response.created: nothing to cancel yet, the request is abandoned
    state, actions = run([E.PTT_PRESSED], S.THINKING)
    assert actions == [A.ABANDON_PENDING_RESPONSE, A.CLEAR_INPUT]


def test_golden_barge_in_during_a_tool_call() -> None:
    state, actions = run([E.RESPONSE_DONE_WITH_TOOLS, E.VAD_SPEECH_STARTED], S.SPEAKING)
    assert state is S.USER_SPEAKING
    assert actions == [
        A.START_TOOLS,
        A.FLUSH_PLAYBACK,
        A.TRUNCATE_ASSISTANT,
        A.REPAIR_CONTEXT,
        A.CANCEL_TOOLS,
    ]
    assert run([E.TOOLS_DONE], state) == (S.USER_SPEAKING, [])  # late results never spoken


def test_golden_repeated_rapid_interrupts_flush_once() -> None:
    state, actions = run(
        [E.INTERRUPT, E.INTERRUPT, E.PTT_PRESSED, E.PTT_PRESSED, E.INTERRUPT], S.SPEAKING
    )
    assert actions.count(A.FLUSH_PLAYBACK) == 1 and actions.count(A.CANCEL_RESPONSE) == 1
    assert state is S.INTERRUPTING


def test_golden_false_interruption_resumes() -> None:
    state, actions = run([E.VAD_SPEECH_STARTED, E.AUDIO_RECEIVED, E.SPEECH_STOPPED], S.SPEAKING)
    assert state is S.SPEAKING
    # the blip's audio is cleared so it cannot open the next user turn
    assert actions == [A.DUCK_PLAYBACK, A.QUEUE_PLAYBACK, A.RESUME_PLAYBACK, A.CLEAR_INPUT]
    state, actions = run([E.VAD_SPEECH_STARTED, E.INTERRUPTION_CONFIRMED], S.SPEAKING)
    assert state is S.INTERRUPTING
    assert actions == [
        A.DUCK_PLAYBACK,
        A.FLUSH_PLAYBACK,
        A.RESUME_PLAYBACK,
        A.CANCEL_RESPONSE,
        A.TRUNCATE_ASSISTANT,
        A.REPAIR_CONTEXT,
    ]


def test_golden_drop_and_reconnect() -> None:
    state, actions = run([E.CONNECTION_LOST, E.RETRY_DUE, E.CONNECTED], S.SPEAKING)
    assert state is S.LISTENING
    assert actions == [
        A.FLUSH_PLAYBACK,
        A.CANCEL_TOOLS,
        A.RESET_TURN,
        A.SCHEDULE_RETRY,
        A.OPEN_CONNECTION,
    ]


def test_golden_auth_failure_and_stop() -> None:
    state, actions = run([E.START, E.PERMANENT_FAILURE], S.DISCONNECTED)
    assert state is S.FAILED and actions == [
        A.OPEN_CONNECTION,
        A.CLOSE_CONNECTION,
        A.NOTIFY_FAILURE,
    ]
    assert run([E.STOP], state) == (S.DISCONNECTED, [])


def test_golden_ptt_too_short_is_discarded() -> None:
    assert run([E.PTT_PRESSED, E.PTT_TOO_SHORT]) == (S.LISTENING, [A.CLEAR_INPUT, A.DISCARD_TURN])


def test_truncate_at_rules() -> None:
    assert truncate_at(1830.7, 2000, False) == 1830
    assert truncate_at(2500.0, 2000, False) == 2000  # pitfall 1: clamp to received
    assert truncate_at(0.0, 2000, False) is None  # pitfall 2: nothing heard
    assert truncate_at(500.0, 0, False) is None
    assert truncate_at(2000.0, 2000, True) is None  # all heard of a finished response
    assert truncate_at(1999.0, 2000, True) == 1999


def test_response_gate() -> None:
    gate = ResponseGate()
    assert gate.request() and gate.busy
    assert not gate.request() and gate.deferred
    assert not gate.created("r1")
    assert not gate.done("other")
    assert gate.done("r1")  # the deferred create goes now
    assert gate.requested and not gate.deferred
    gate.abandon()
    assert gate.created("r2")  # abandoned: cancel on arrival
    assert not gate.done("r2")
    gate.created("server")  # a server-started response is active too
    assert not gate.request()
    gate.reset()
    assert not gate.busy and not gate.deferred


# --------------------------------------------------------------------------- property test

RESPONSE_EVENTS = {
    E.RESPONSE_CREATED,
    E.RESPONSE_DONE,
    E.RESPONSE_DONE_WITH_TOOLS,
    E.AUDIO_RECEIVED,
}
USER_EVENTS = sorted(set(Ev) - RESPONSE_EVENTS - {E.TOOLS_DONE}, key=lambda e: e.value)


class SessionModel(RuleBasedStateMachine):
    """The table plus the response gate against a server that obeys the protocol."""

    def __init__(self) -> None:
        super().__init__()
        self.state = S.DISCONNECTED
        self.gate = ResponseGate()
        self.server_active: str | None = None
        self.server_pending = 0
        self.count = 0
        self.tools_running = False

    def _apply(self, event: Ev) -> list[Act]:
        before = self.state
        self.state, actions = step(before, event)
        acts = list(actions)
        if before in (S.SPEAKING, S.SPEAKING_DUCKED) and A.FLUSH_PLAYBACK in acts:
            assert acts.count(A.FLUSH_PLAYBACK) == 1
            assert acts.count(A.CANCEL_RESPONSE) <= 1
        if A.QUEUE_PLAYBACK in acts:
            assert self.state in (S.SPEAKING, S.SPEAKING_DUCKED)
        for act in acts:
            if act is A.CREATE_RESPONSE and self.gate.request():
                self.server_pending += 1
            elif act is A.END_USER_TURN and self.gate.request():
                self.server_pending += 1
            elif act is A.ABANDON_PENDING_RESPONSE:
                self.gate.abandon()
            elif act is A.RESET_TURN:
                self.gate.reset()
                self.server_active, self.server_pending = None, 0
            elif act is A.START_TOOLS:
                self.tools_running = True
            elif act is A.CANCEL_TOOLS:
                self.tools_running = False
        return acts

    @rule(event=st.sampled_from(USER_EVENTS))
    def user_or_link(self, event: Ev) -> None:
        self._apply(event)

    @precondition(lambda self: self.server_active is None and self.server_pending > 0)
    @rule()
    def server_creates(self) -> None:
        self.server_pending -= 1
        self.count += 1
        rid = f"r{self.count}"
        self.server_active = rid
        if not self.gate.created(rid):
            self._apply(E.RESPONSE_CREATED)

    @precondition(lambda self: self.server_active is not None)
    @rule()
    def server_audio(self) -> None:
        self._apply(E.AUDIO_RECEIVED)

    @precondition(lambda self: self.server_active is not None)
    @rule(tools=st.booleans())
    def server_done(self, tools: bool) -> None:
        rid, self.server_active = self.server_active, None
        assert rid is not None
        if self.gate.done(rid):
            self.server_pending += 1
        self._apply(E.RESPONSE_DONE_WITH_TOOLS if tools else E.RESPONSE_DONE)

    @precondition(lambda self: self.tools_running)
    @rule()
    def tools_finish(self) -> None:
        self.tools_running = False
        self._apply(E.TOOLS_DONE)

    @invariant()
    def never_two_responses_in_flight(self) -> None:
        assert self.server_pending + (self.server_active is not None) <= 1


TestSessionModel = SessionModel.TestCase
TestSessionModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
