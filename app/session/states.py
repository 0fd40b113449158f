"""The state machine's vocabulary: its states, the event kinds it reacts to, its actions.

``State``, ``Ev`` and ``Act`` are the words of the table in ``app.session.statemachine``;
``public_state`` maps an internal state to the ``AssistantState`` the GUI shows.

Thread: pure data, used on the session loop thread (the driver's ``state`` property reads
``public_state`` from any thread).
"""

from __future__ import annotations

import enum

from app.events import AssistantState


class State(enum.Enum):
    """Conversation states the driver can be in."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"  # user turn ended, no response yet
    RESPONDING = "responding"  # response created, no audio yet
    SPEAKING = "speaking"  # response active, audio flowing
    SPEAKING_DUCKED = "speaking_ducked"  # a possible interruption is being confirmed
    TAIL = "tail"  # response done, playback still draining
    TAIL_DUCKED = "tail_ducked"
    INTERRUPTING = "interrupting"  # barged in, user speaking, cancelled response not done yet
    CANCELLING = "cancelling"  # interrupted, nobody speaking, cancelled response not done yet
    INTERRUPTED_TURN_ENDED = "interrupted_turn_ended"  # next turn ready, waiting for the done
    TOOL_RUNNING = "tool_running"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


class Ev(enum.Enum):
    """Event kinds the table reacts to."""

    START = "start"
    CONNECTED = "connected"
    CONNECTION_LOST = "connection_lost"
    PERMANENT_FAILURE = "permanent_failure"
    RETRY_DUE = "retry_due"
    RENEW = "renew"  # the session is old: reconnect in advance while idle
    STOP = "stop"
    VAD_SPEECH_STARTED = "vad_speech_started"  # local VAD, or server VAD that does not cancel
    SERVER_SPEECH_STARTED = "server_speech_started"  # server VAD that cancels by itself
    INTERRUPTION_CONFIRMED = "interruption_confirmed"  # speech outlasted min_interruption_ms
    SPEECH_STOPPED = "speech_stopped"
    PTT_PRESSED = "ptt_pressed"
    PTT_RELEASED = "ptt_released"
    PTT_TOO_SHORT = "ptt_too_short"  # released with less than min_turn_ms of audio
    INTERRUPT = "interrupt"  # button or hotkey
    TEXT_TURN = "text_turn"
    RESPONSE_CREATED = "response_created"
    AUDIO_RECEIVED = "audio_received"
    RESPONSE_DONE = "response_done"
    RESPONSE_DONE_WITH_TOOLS = "response_done_with_tools"
    TOOLS_DONE = "tools_done"
    PLAYBACK_DRAINED = "playback_drained"


class Act(enum.Enum):
    """Actions the driver executes, in the order given."""

    OPEN_CONNECTION = "open_connection"
    RENEW_CONNECTION = "renew_connection"
    CLOSE_CONNECTION = "close_connection"
    SCHEDULE_RETRY = "schedule_retry"
    NOTIFY_FAILURE = "notify_failure"
    RESET_TURN = "reset_turn"
    QUEUE_PLAYBACK = "queue_playback"
    FLUSH_PLAYBACK = "flush_playback"  # also marks the response stale: late deltas are dropped
    DUCK_PLAYBACK = "duck_playback"  # also arms the min_interruption_ms timer
    RESUME_PLAYBACK = "resume_playback"
    CANCEL_RESPONSE = "cancel_response"
    TRUNCATE_ASSISTANT = "truncate_assistant"  # at min(played, received); skipped at 0 or all heard
    REPAIR_CONTEXT = "repair_context"  # per the repair policy
    CANCEL_TOOLS = "cancel_tools"
    ABANDON_PENDING_RESPONSE = "abandon_pending_response"  # cancel a requested one when it appears
    CLEAR_INPUT = "clear_input"
    DROP_USER_SPEECH = "drop_user_speech"  # a typed turn wins: clear the speech, stop its uplink
    END_USER_TURN = "end_user_turn"  # commit (+ create) as the turn mode says
    DISCARD_TURN = "discard_turn"  # clear the input and tell the user the turn was too short
    SEND_TEXT = "send_text"
    CREATE_RESPONSE = "create_response"  # gated: waits for any cancelled response's done
    START_TOOLS = "start_tools"
    SEND_TOOL_OUTPUTS = "send_tool_outputs"


ONLINE = frozenset(State) - {State.DISCONNECTED, State.CONNECTING, State.RECONNECTING, State.FAILED}
SPEAKING_STATES = frozenset({State.SPEAKING, State.SPEAKING_DUCKED})
DUCKED_STATES = frozenset({State.SPEAKING_DUCKED, State.TAIL_DUCKED})

_PUBLIC: dict[State, AssistantState] = {
    State.DISCONNECTED: AssistantState.DISCONNECTED,
    State.CONNECTING: AssistantState.CONNECTING,
    State.LISTENING: AssistantState.LISTENING,
    State.USER_SPEAKING: AssistantState.USER_SPEAKING,
    State.THINKING: AssistantState.THINKING,
    State.RESPONDING: AssistantState.THINKING,
    State.SPEAKING: AssistantState.ASSISTANT_SPEAKING,
    State.SPEAKING_DUCKED: AssistantState.ASSISTANT_SPEAKING,
    State.TAIL: AssistantState.ASSISTANT_SPEAKING,
    State.TAIL_DUCKED: AssistantState.ASSISTANT_SPEAKING,
    State.INTERRUPTING: AssistantState.INTERRUPTING,
    State.CANCELLING: AssistantState.INTERRUPTING,
    State.INTERRUPTED_TURN_ENDED: AssistantState.INTERRUPTING,
    State.TOOL_RUNNING: AssistantState.TOOL_RUNNING,
    State.RECONNECTING: AssistantState.RECONNECTING,
    State.FAILED: AssistantState.FAILED,
}


def public_state(state: State) -> AssistantState:
    """Return the GUI-facing ``AssistantState`` for an internal state."""
    return _PUBLIC[state]
