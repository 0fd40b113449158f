"""The barge-in state machine: one concrete table ``(state, event) → (next state, actions)``.

Pure: no I/O, no clocks. The driver turns provider messages, audio-side events and user
commands into ``Ev`` kinds (guards are separate kinds, e.g. ``PTT_TOO_SHORT``), calls ``step``
and executes the returned ``Act`` list in order. Every ``(state, event)`` pair is either a row of
``TRANSITIONS`` or a member of ``IGNORED``; the tests hold the table to that. The vocabulary
(``State``, ``Ev``, ``Act``) is in ``app.session.states``; the response gate and the truncation
point are in ``app.session.response_gate``.

Thread: the session loop thread only (``Conversation.dispatch``).
"""

from __future__ import annotations

from app.session.states import ONLINE, Act, Ev, State

S = State
E = Ev
A = Act

Row = tuple[State, tuple[Act, ...]]

# A barge-in while a response is active: stop the audio, cancel, cut the item at what was heard.
_CUT = (A.FLUSH_PLAYBACK, A.CANCEL_RESPONSE, A.TRUNCATE_ASSISTANT, A.REPAIR_CONTEXT)
# The server already cancelled (its VAD heard the user): never send response.cancel.
_CUT_NO_CANCEL = (A.FLUSH_PLAYBACK, A.TRUNCATE_ASSISTANT, A.REPAIR_CONTEXT)
_DUCKED_CUT = (A.FLUSH_PLAYBACK, A.RESUME_PLAYBACK, *_CUT[1:])
_DUCKED_CUT_NO_CANCEL = (A.FLUSH_PLAYBACK, A.RESUME_PLAYBACK, *_CUT_NO_CANCEL[1:])
_TEXT = (A.SEND_TEXT, A.CREATE_RESPONSE)

_SPECIFIC: dict[tuple[State, Ev], Row] = {
    (S.DISCONNECTED, E.START): (S.CONNECTING, (A.OPEN_CONNECTION,)),
    # the driver's loop failed before it connected
    (S.DISCONNECTED, E.PERMANENT_FAILURE): (S.FAILED, (A.NOTIFY_FAILURE,)),
    (S.FAILED, E.START): (S.CONNECTING, (A.OPEN_CONNECTION,)),
    (S.FAILED, E.STOP): (S.DISCONNECTED, ()),
    (S.CONNECTING, E.CONNECTED): (S.LISTENING, ()),
    (S.CONNECTING, E.CONNECTION_LOST): (S.RECONNECTING, (A.SCHEDULE_RETRY,)),
    (S.RECONNECTING, E.RETRY_DUE): (S.CONNECTING, (A.OPEN_CONNECTION,)),
    (S.LISTENING, E.RENEW): (S.CONNECTING, (A.RENEW_CONNECTION,)),
    # listening
    (S.LISTENING, E.VAD_SPEECH_STARTED): (S.USER_SPEAKING, ()),
    (S.LISTENING, E.SERVER_SPEECH_STARTED): (S.USER_SPEAKING, ()),
    (S.LISTENING, E.PTT_PRESSED): (S.USER_SPEAKING, (A.CLEAR_INPUT,)),
    (S.LISTENING, E.TEXT_TURN): (S.THINKING, _TEXT),
    (S.LISTENING, E.RESPONSE_CREATED): (S.RESPONDING, ()),
    # user speaking
    (S.USER_SPEAKING, E.SPEECH_STOPPED): (S.THINKING, (A.END_USER_TURN,)),
    (S.USER_SPEAKING, E.PTT_RELEASED): (S.THINKING, (A.END_USER_TURN,)),
    (S.USER_SPEAKING, E.PTT_TOO_SHORT): (S.LISTENING, (A.DISCARD_TURN,)),
    # The typed turn is the user's explicit one; the unfinished speech (often keyboard noise the
    # VAD took for speech) is cleared, or it would open the next voice turn.
    (S.USER_SPEAKING, E.TEXT_TURN): (S.THINKING, (A.DROP_USER_SPEECH, *_TEXT)),
    (S.USER_SPEAKING, E.RESPONSE_CREATED): (S.INTERRUPTING, (A.CANCEL_RESPONSE,)),
    # thinking (no response yet)
    (S.THINKING, E.RESPONSE_CREATED): (S.RESPONDING, ()),
    (S.THINKING, E.AUDIO_RECEIVED): (S.SPEAKING, (A.QUEUE_PLAYBACK,)),
    (S.THINKING, E.VAD_SPEECH_STARTED): (S.USER_SPEAKING, (A.ABANDON_PENDING_RESPONSE,)),
    (S.THINKING, E.SERVER_SPEECH_STARTED): (S.USER_SPEAKING, (A.ABANDON_PENDING_RESPONSE,)),
    (S.THINKING, E.PTT_PRESSED): (
        S.USER_SPEAKING,
        (A.ABANDON_PENDING_RESPONSE, A.CLEAR_INPUT),
    ),
    (S.THINKING, E.INTERRUPT): (S.LISTENING, (A.ABANDON_PENDING_RESPONSE,)),
    (S.THINKING, E.TEXT_TURN): (S.THINKING, (A.ABANDON_PENDING_RESPONSE, *_TEXT)),
    # responding (created, no audio yet): nothing was heard, so nothing to truncate
    (S.RESPONDING, E.AUDIO_RECEIVED): (S.SPEAKING, (A.QUEUE_PLAYBACK,)),
    (S.RESPONDING, E.RESPONSE_DONE): (S.LISTENING, ()),
    (S.RESPONDING, E.RESPONSE_DONE_WITH_TOOLS): (S.TOOL_RUNNING, (A.START_TOOLS,)),
    (S.RESPONDING, E.VAD_SPEECH_STARTED): (
        S.INTERRUPTING,
        (A.FLUSH_PLAYBACK, A.CANCEL_RESPONSE),
    ),
    (S.RESPONDING, E.SERVER_SPEECH_STARTED): (S.INTERRUPTING, (A.FLUSH_PLAYBACK,)),
    (S.RESPONDING, E.PTT_PRESSED): (
        S.INTERRUPTING,
        (A.FLUSH_PLAYBACK, A.CANCEL_RESPONSE, A.CLEAR_INPUT),
    ),
    (S.RESPONDING, E.INTERRUPT): (S.CANCELLING, (A.FLUSH_PLAYBACK, A.CANCEL_RESPONSE)),
    (S.RESPONDING, E.TEXT_TURN): (
        S.INTERRUPTED_TURN_ENDED,
        (A.FLUSH_PLAYBACK, A.CANCEL_RESPONSE, *_TEXT),
    ),
    # speaking
    (S.SPEAKING, E.AUDIO_RECEIVED): (S.SPEAKING, (A.QUEUE_PLAYBACK,)),
    (S.SPEAKING, E.RESPONSE_DONE): (S.TAIL, ()),
    (S.SPEAKING, E.RESPONSE_DONE_WITH_TOOLS): (S.TOOL_RUNNING, (A.START_TOOLS,)),
    (S.SPEAKING, E.VAD_SPEECH_STARTED): (S.SPEAKING_DUCKED, (A.DUCK_PLAYBACK,)),
    (S.SPEAKING, E.SERVER_SPEECH_STARTED): (S.INTERRUPTING, _CUT_NO_CANCEL),
    (S.SPEAKING, E.PTT_PRESSED): (S.INTERRUPTING, (*_CUT, A.CLEAR_INPUT)),
    (S.SPEAKING, E.INTERRUPT): (S.CANCELLING, _CUT),
    (S.SPEAKING, E.TEXT_TURN): (S.INTERRUPTED_TURN_ENDED, (*_CUT, *_TEXT)),
    # speaking, ducked: a VAD trigger is being confirmed
    (S.SPEAKING_DUCKED, E.AUDIO_RECEIVED): (S.SPEAKING_DUCKED, (A.QUEUE_PLAYBACK,)),
    (S.SPEAKING_DUCKED, E.INTERRUPTION_CONFIRMED): (S.INTERRUPTING, _DUCKED_CUT),
    # a false interruption: its audio must not open the user's next turn
    (S.SPEAKING_DUCKED, E.SPEECH_STOPPED): (S.SPEAKING, (A.RESUME_PLAYBACK, A.CLEAR_INPUT)),
    (S.SPEAKING_DUCKED, E.RESPONSE_DONE): (S.TAIL_DUCKED, ()),
    (S.SPEAKING_DUCKED, E.RESPONSE_DONE_WITH_TOOLS): (
        S.TOOL_RUNNING,
        (A.RESUME_PLAYBACK, A.START_TOOLS),
    ),
    (S.SPEAKING_DUCKED, E.SERVER_SPEECH_STARTED): (S.INTERRUPTING, _DUCKED_CUT_NO_CANCEL),
    (S.SPEAKING_DUCKED, E.PTT_PRESSED): (S.INTERRUPTING, (*_DUCKED_CUT, A.CLEAR_INPUT)),
    (S.SPEAKING_DUCKED, E.INTERRUPT): (S.CANCELLING, _DUCKED_CUT),
    (S.SPEAKING_DUCKED, E.TEXT_TURN): (S.INTERRUPTED_TURN_ENDED, (*_DUCKED_CUT, *_TEXT)),
    # tail: the response is done, its audio still plays; never cancel
    (S.TAIL, E.PLAYBACK_DRAINED): (S.LISTENING, ()),
    (S.TAIL, E.VAD_SPEECH_STARTED): (S.TAIL_DUCKED, (A.DUCK_PLAYBACK,)),
    (S.TAIL, E.SERVER_SPEECH_STARTED): (S.USER_SPEAKING, _CUT_NO_CANCEL),
    (S.TAIL, E.PTT_PRESSED): (S.USER_SPEAKING, (*_CUT_NO_CANCEL, A.CLEAR_INPUT)),
    (S.TAIL, E.INTERRUPT): (S.LISTENING, _CUT_NO_CANCEL),
    (S.TAIL, E.TEXT_TURN): (S.THINKING, (*_CUT_NO_CANCEL, *_TEXT)),
    (S.TAIL, E.RESPONSE_CREATED): (S.RESPONDING, ()),
    # tail, ducked
    (S.TAIL_DUCKED, E.INTERRUPTION_CONFIRMED): (S.USER_SPEAKING, _DUCKED_CUT_NO_CANCEL),
    (S.TAIL_DUCKED, E.SPEECH_STOPPED): (S.TAIL, (A.RESUME_PLAYBACK, A.CLEAR_INPUT)),
    (S.TAIL_DUCKED, E.PLAYBACK_DRAINED): (S.USER_SPEAKING, (A.RESUME_PLAYBACK,)),
    (S.TAIL_DUCKED, E.SERVER_SPEECH_STARTED): (S.USER_SPEAKING, _DUCKED_CUT_NO_CANCEL),
    (S.TAIL_DUCKED, E.PTT_PRESSED): (
        S.USER_SPEAKING,
        (*_DUCKED_CUT_NO_CANCEL, A.CLEAR_INPUT),
    ),
    (S.TAIL_DUCKED, E.INTERRUPT): (S.LISTENING, _DUCKED_CUT_NO_CANCEL),
    (S.TAIL_DUCKED, E.TEXT_TURN): (S.THINKING, (*_DUCKED_CUT_NO_CANCEL, *_TEXT)),
    (S.TAIL_DUCKED, E.RESPONSE_CREATED): (S.RESPONDING, (A.RESUME_PLAYBACK,)),
    # interrupting: the user talks, the cancelled response's done is still due
    (S.INTERRUPTING, E.RESPONSE_DONE): (S.USER_SPEAKING, ()),
    (S.INTERRUPTING, E.RESPONSE_DONE_WITH_TOOLS): (S.USER_SPEAKING, ()),
    (S.INTERRUPTING, E.SPEECH_STOPPED): (S.INTERRUPTED_TURN_ENDED, (A.END_USER_TURN,)),
    (S.INTERRUPTING, E.PTT_RELEASED): (S.INTERRUPTED_TURN_ENDED, (A.END_USER_TURN,)),
    (S.INTERRUPTING, E.PTT_TOO_SHORT): (S.CANCELLING, (A.DISCARD_TURN,)),
    (S.INTERRUPTING, E.TEXT_TURN): (S.INTERRUPTED_TURN_ENDED, (A.DROP_USER_SPEECH, *_TEXT)),
    # cancelling: nobody talks, the cancelled response's done is still due
    (S.CANCELLING, E.RESPONSE_DONE): (S.LISTENING, ()),
    (S.CANCELLING, E.RESPONSE_DONE_WITH_TOOLS): (S.LISTENING, ()),
    (S.CANCELLING, E.VAD_SPEECH_STARTED): (S.INTERRUPTING, ()),
    (S.CANCELLING, E.SERVER_SPEECH_STARTED): (S.INTERRUPTING, ()),
    (S.CANCELLING, E.PTT_PRESSED): (S.INTERRUPTING, (A.CLEAR_INPUT,)),
    (S.CANCELLING, E.TEXT_TURN): (S.INTERRUPTED_TURN_ENDED, _TEXT),
    # the next turn is ready; its response waits for the cancelled one's done
    (S.INTERRUPTED_TURN_ENDED, E.RESPONSE_DONE): (S.THINKING, ()),
    (S.INTERRUPTED_TURN_ENDED, E.RESPONSE_DONE_WITH_TOOLS): (S.THINKING, ()),
    (S.INTERRUPTED_TURN_ENDED, E.VAD_SPEECH_STARTED): (
        S.INTERRUPTING,
        (A.ABANDON_PENDING_RESPONSE,),
    ),
    (S.INTERRUPTED_TURN_ENDED, E.SERVER_SPEECH_STARTED): (
        S.INTERRUPTING,
        (A.ABANDON_PENDING_RESPONSE,),
    ),
    (S.INTERRUPTED_TURN_ENDED, E.TEXT_TURN): (S.INTERRUPTED_TURN_ENDED, (A.SEND_TEXT,)),
    (S.INTERRUPTED_TURN_ENDED, E.PTT_PRESSED): (
        S.INTERRUPTING,
        (A.ABANDON_PENDING_RESPONSE, A.CLEAR_INPUT),
    ),
    # tools
    (S.TOOL_RUNNING, E.TOOLS_DONE): (S.THINKING, (A.SEND_TOOL_OUTPUTS, A.CREATE_RESPONSE)),
    (S.TOOL_RUNNING, E.VAD_SPEECH_STARTED): (
        S.USER_SPEAKING,
        (*_CUT_NO_CANCEL, A.CANCEL_TOOLS),
    ),
    (S.TOOL_RUNNING, E.SERVER_SPEECH_STARTED): (
        S.USER_SPEAKING,
        (*_CUT_NO_CANCEL, A.CANCEL_TOOLS),
    ),
    (S.TOOL_RUNNING, E.PTT_PRESSED): (
        S.USER_SPEAKING,
        (*_CUT_NO_CANCEL, A.CANCEL_TOOLS, A.CLEAR_INPUT),
    ),
    (S.TOOL_RUNNING, E.INTERRUPT): (S.LISTENING, (*_CUT_NO_CANCEL, A.CANCEL_TOOLS)),
    (S.TOOL_RUNNING, E.TEXT_TURN): (S.THINKING, (*_CUT_NO_CANCEL, A.CANCEL_TOOLS, *_TEXT)),
}


def _expand() -> dict[tuple[State, Ev], Row]:
    """Add the "from any state" rows as concrete rows."""
    table = dict(_SPECIFIC)
    lost = (A.FLUSH_PLAYBACK, A.CANCEL_TOOLS, A.RESET_TURN, A.SCHEDULE_RETRY)
    fatal_online = (
        A.FLUSH_PLAYBACK,
        A.CANCEL_TOOLS,
        A.RESET_TURN,
        A.CLOSE_CONNECTION,
        A.NOTIFY_FAILURE,
    )
    stop_online = (A.FLUSH_PLAYBACK, A.CANCEL_TOOLS, A.RESET_TURN, A.CLOSE_CONNECTION)
    for state in ONLINE:
        table[(state, E.CONNECTION_LOST)] = (S.RECONNECTING, lost)
        table[(state, E.PERMANENT_FAILURE)] = (S.FAILED, fatal_online)
        table[(state, E.STOP)] = (S.DISCONNECTED, stop_online)
    for state in (S.CONNECTING, S.RECONNECTING):
        table[(state, E.PERMANENT_FAILURE)] = (S.FAILED, (A.CLOSE_CONNECTION, A.NOTIFY_FAILURE))
        table[(state, E.STOP)] = (S.DISCONNECTED, (A.CLOSE_CONNECTION,))
    return table


TRANSITIONS: dict[tuple[State, Ev], Row] = _expand()


_IGNORED_BY_STATE: dict[State, str] = {
    S.DISCONNECTED: (
        "connected connection_lost retry_due renew stop "
        "vad_speech_started server_speech_started interruption_confirmed speech_stopped "
        "ptt_pressed ptt_released ptt_too_short interrupt text_turn response_created "
        "audio_received response_done response_done_with_tools tools_done "
        "playback_drained "
    ),
    S.CONNECTING: (
        "start retry_due renew vad_speech_started server_speech_started "
        "interruption_confirmed speech_stopped ptt_pressed ptt_released ptt_too_short "
        "interrupt text_turn response_created audio_received response_done "
        "response_done_with_tools tools_done playback_drained "
    ),
    S.LISTENING: (
        "start connected retry_due interruption_confirmed speech_stopped ptt_released "
        "ptt_too_short interrupt audio_received response_done response_done_with_tools "
        "tools_done playback_drained "
    ),
    S.USER_SPEAKING: (
        "start connected retry_due renew vad_speech_started server_speech_started "
        "interruption_confirmed ptt_pressed interrupt audio_received response_done "
        "response_done_with_tools tools_done playback_drained "
    ),
    S.THINKING: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short response_done response_done_with_tools tools_done "
        "playback_drained "
    ),
    S.RESPONDING: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short response_created tools_done playback_drained "
    ),
    S.SPEAKING: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short response_created tools_done playback_drained "
    ),
    S.SPEAKING_DUCKED: (
        "start connected retry_due renew vad_speech_started ptt_released ptt_too_short "
        "response_created tools_done playback_drained "
    ),
    S.TAIL: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short audio_received response_done response_done_with_tools "
        "tools_done "
    ),
    S.TAIL_DUCKED: (
        "start connected retry_due renew vad_speech_started ptt_released ptt_too_short "
        "audio_received response_done response_done_with_tools tools_done "
    ),
    S.INTERRUPTING: (
        "start connected retry_due renew vad_speech_started server_speech_started "
        "interruption_confirmed ptt_pressed interrupt response_created audio_received "
        "tools_done playback_drained "
    ),
    S.CANCELLING: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short interrupt response_created audio_received tools_done "
        "playback_drained "
    ),
    S.INTERRUPTED_TURN_ENDED: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short interrupt response_created audio_received tools_done "
        "playback_drained "
    ),
    S.TOOL_RUNNING: (
        "start connected retry_due renew interruption_confirmed speech_stopped "
        "ptt_released ptt_too_short response_created audio_received response_done "
        "response_done_with_tools playback_drained "
    ),
    S.RECONNECTING: (
        "start connected connection_lost renew vad_speech_started server_speech_started "
        "interruption_confirmed speech_stopped ptt_pressed ptt_released ptt_too_short "
        "interrupt text_turn response_created audio_received response_done "
        "response_done_with_tools tools_done playback_drained "
    ),
    S.FAILED: (
        "connected connection_lost permanent_failure retry_due renew vad_speech_started "
        "server_speech_started interruption_confirmed speech_stopped ptt_pressed "
        "ptt_released ptt_too_short interrupt text_turn response_created audio_received "
        "response_done response_done_with_tools tools_done playback_drained "
    ),
}
"""Per state, the event kinds that deliberately change nothing (space-separated ``Ev`` values).

Examples: late ``audio_received`` of a cancelled response while interrupting, a
``playback_drained`` underrun during speech, ``speech_stopped`` while listening, ``interrupt``
with nothing to interrupt, ``start`` while connected."""

IGNORED: frozenset[tuple[State, Ev]] = frozenset(
    (state, Ev(name)) for state, names in _IGNORED_BY_STATE.items() for name in names.split()
)


def step(state: State, event: Ev) -> tuple[State, tuple[Act, ...]]:
    """Return the next state and the actions for ``event`` in ``state`` (pure)."""
    row = TRANSITIONS.get((state, event))
    if row is None:
        return state, ()
    return row
