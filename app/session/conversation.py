"""The conversation: inputs and server events in, state-machine actions executed out.

``Conversation`` owns everything about a conversation that outlives a single socket: the barge-in
state machine (``app.session.statemachine``), turn taking, the response gate, the assistant audio
track a barge-in may truncate, tool calls, transcripts, context and latency marks. This module
holds the inputs, the dispatch and the conversation's state; server events are handled by the
``ServerEvents`` half (``app.session.server_events``), state-machine actions by the
``TurnActions`` half (``app.session.turn_actions``). The driver (``app.session.driver``) owns
the thread, the sockets and the writer; it calls :meth:`Conversation.on_input`,
:meth:`Conversation.on_server_event` and :meth:`Conversation.dispatch`, and gives the
conversation a ``send`` that queues client commands.

Thread: the session loop thread only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from app.events import (
    AudioChunk,
    NoticeCategory,
    NoticeLevel,
    PlaybackDrained,
    SessionStateChanged,
    SpeechStarted,
    SpeechStopped,
    UserNotice,
)
from app.ports import PlaybackSink
from app.runtime import commands as cmd
from app.session import messages as m
from app.session.collaborators import (
    ContextLike,
    MeterLike,
    ToolResultLike,
    TranscriptLike,
)
from app.session.config import SessionConfig
from app.session.errors import Failure, notice_for
from app.session.latency_marks import TurnMarks
from app.session.response_gate import ResponseGate
from app.session.server_events import ServerEvents
from app.session.statemachine import step
from app.session.states import Ev, State, public_state
from app.session.tool_calls import ToolCalls
from app.session.turns import TurnTaker
from app.session.uplink import SentAudio, UplinkBatch, UplinkChunk, UplinkQueue

log = logging.getLogger("app.session")
state_log = logging.getLogger("app.session.state")

# States in which a command from the user cannot reach the provider yet.
OFFLINE_STATES = frozenset({State.DISCONNECTED, State.CONNECTING, State.RECONNECTING})


class Conversation(ServerEvents):
    """State machine, turn taking, tools, transcripts and latency marks of one conversation.

    Args:
        config: the session settings in force.
        playback: the audio engine's playback side.
        emit: delivers core events to the observer (never raises).
        send: queues a client command on the current connection (dropped when offline).
        send_audio: queues an uplink batch as an ``append`` ahead of later commands.
        wake: wakes the writer (a close or renewal is due).
        transcript: receives transcript pieces.
        context: keeps the last turns on the server and replays them.
        meter: receives latency marks.
        clock: the monotonic clock.
    """

    def __init__(
        self,
        config: SessionConfig,
        playback: PlaybackSink,
        emit: Callable[[object], None],
        send: Callable[[m.ClientCommand], None],
        send_audio: Callable[[UplinkBatch], None],
        wake: Callable[[], None],
        transcript: TranscriptLike | None,
        context: ContextLike | None,
        meter: MeterLike | None,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.playback = playback
        self.emit = emit
        self.send = send
        self._send_audio = send_audio
        self.wake = wake
        self.transcript = transcript
        self.context = context
        self.clock = clock
        self.turns: TurnTaker[AudioChunk] = TurnTaker(config)
        self.gate = ResponseGate()
        self.fsm = State.DISCONNECTED
        self.marks = TurnMarks(meter, playback, clock)
        self.tools = ToolCalls(send)
        self.uplink = UplinkQueue(config.uplink_queue_chunks)
        self.sent_audio = SentAudio(config.input_rate())
        self.failure: Failure | None = None
        self.truncates = True
        """The provider can cut heard audio; without it a barge-in always sends the note."""
        self.renew = False
        self.create_sent_at: float | None = None
        self.late_deltas_dropped = 0
        self.server_errors: collections.Counter[str] = collections.Counter()
        self.announcements: collections.deque[str] = collections.deque(maxlen=16)
        """Things to say on the assistant's own initiative, spoken one by one when idle."""
        self._init_turn_state()

    # ------------------------------------------------------------------ inputs

    def on_input(self, command: object) -> None:
        """Handle a command or an audio-side event (the driver routes them here)."""
        turns = self.turns
        match command:
            case AudioChunk():
                self.marks.mic_audio(command)
                self._on_chunk(command)
            case SpeechStarted(at=at, evidence_at=evidence_at):
                if turns.local_vad_ends_turns and self.fsm is not State.USER_SPEAKING:
                    self._start_turn(await_chunk=True)
                self.speech_evidence_at = evidence_at
                self.feed(turns.local_speech_started(), "local VAD: speech started", at)
            case SpeechStopped(at=at):
                if turns.local_vad_ends_turns:
                    self.speech_end_at = self.marks.vad_speech_end(at)
                self.feed(turns.local_speech_stopped(), "local VAD: speech stopped")
            case PlaybackDrained():
                self.dispatch(Ev.PLAYBACK_DRAINED, "playback drained")
            case cmd.PushToTalkPressed():
                now = self.clock()
                if self._offline("push-to-talk"):
                    return
                if turns.push_to_talk:
                    self._start_turn(await_chunk=True)
                self.feed(turns.ptt_pressed(), "push-to-talk pressed", now)
            case cmd.PushToTalkReleased(at=at):
                now = self.clock()
                self.speech_end_at = now if at is None else min(at, now)
                self.feed(turns.ptt_released(), "push-to-talk released")
            case cmd.Interrupt():
                self.dispatch(Ev.INTERRUPT, "interrupt requested", self.clock())
            case cmd.SendText(text=text):
                now = self.clock()
                if self._offline("typed text"):
                    return
                self.pending_text, self.pending_role = text, "user"
                self.dispatch(Ev.TEXT_TURN, "typed turn", now)
            case cmd.Announce(text=text):
                self.announcements.append(text)
                self._announce_when_idle()
            case cmd.SetMicMuted(muted=muted):
                turns.muted = muted
            case _:
                log.debug("ignored command %s", type(command).__name__)

    def _offline(self, what: str) -> bool:
        if self.fsm not in OFFLINE_STATES and self.fsm is not State.FAILED:
            return False
        state = "failed" if self.fsm is State.FAILED else "not connected yet"
        self.emit(
            UserNotice(
                NoticeLevel.WARNING,
                NoticeCategory.CONNECTIVITY,
                f"The voice service is {state}; your {what} was not sent.",
            )
        )
        return True

    def _on_chunk(self, chunk: AudioChunk) -> None:
        if self.fsm in OFFLINE_STATES or self.fsm is State.FAILED:
            return
        for item in self.turns.uplink(chunk):
            mark_turn = None
            if self.await_first_chunk:
                self.await_first_chunk = False
                mark_turn = self.marks.turn_id
                self.marks.mark("capture", item.captured_at)
            self.uplink.push(UplinkChunk(item.pcm, item.captured_at, mark_turn))
        self.wake()

    def _start_turn(self, await_chunk: bool) -> None:
        self.marks.new_turn()
        self.await_first_chunk = await_chunk
        self.speech_end_at = None

    def feed(self, event: Ev | None, reason: str, trigger_at: float | None = None) -> None:
        """Dispatch ``event`` unless the turn taker mapped the input to nothing."""
        if event is not None:
            self.dispatch(event, reason, trigger_at)

    def batch_limit(self) -> int:
        """Bytes of audio in one ``append`` at most."""
        return int(self.config.input_rate() * 2 * self.config.uplink_batch_ms / 1000)

    def flush_uplink(self) -> None:
        """Queue every waiting chunk as ``append`` frames ahead of a commit."""
        while (batch := self.uplink.take(self.batch_limit())) is not None:
            self._send_audio(batch)

    # ------------------------------------------------------------------ tools

    def on_tool_done(self, result: ToolResultLike) -> None:
        """A tool call ended (the runner's ``on_done``, on the loop thread)."""
        held = self.tools.on_result(result)
        if held and self.fsm is State.TOOL_RUNNING and self.tools.idle:
            self.dispatch(Ev.TOOLS_DONE, "tools finished")

    # ------------------------------------------------------------------ the state machine

    def dispatch(self, event: Ev, reason: str, trigger_at: float | None = None) -> None:
        """Step the state machine and execute its actions in order.

        Args:
            event: what happened.
            reason: for the log and ``SessionStateChanged``.
            trigger_at: when the user's barge-in trigger happened, if this event is one.
        """
        before = self.fsm
        after, actions = step(before, event)
        if after is not before or actions:
            state_log.debug(
                "%s --%s--> %s %s (%s)",
                before.name,
                event.name,
                after.name,
                [a.name for a in actions],
                reason,
            )
        self.fsm = after
        if public_state(after) is not public_state(before):
            self.emit(SessionStateChanged(public_state(after), reason))
        self.marks.trigger_at = trigger_at
        try:
            for action in actions:
                getattr(self, "_act_" + action.value)()
        finally:
            self.marks.trigger_at = None
        if after is State.LISTENING and self.announcements:
            self._announce_when_idle()

    def _announce_when_idle(self) -> None:
        """Speak the oldest queued announcement if nothing else is going on; else keep it."""
        if self.fsm is not State.LISTENING or not self.announcements:
            return
        self.pending_text, self.pending_role = self.announcements.popleft(), "system"
        self.dispatch(Ev.TEXT_TURN, "announcement")

    def notify_failure(self) -> None:
        """Tell the user about the classified permanent failure."""
        if self.failure is not None:
            self.emit(notice_for(self.failure, self.config.provider))

    def schedule_tools_done(self, reason: str) -> None:
        """Dispatch ``TOOLS_DONE`` on the next loop turn (never from inside an action)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(self._tools_done_if_due, reason)

    def _tools_done_if_due(self, reason: str) -> None:
        if self.fsm is State.TOOL_RUNNING and self.tools.idle:
            self.dispatch(Ev.TOOLS_DONE, reason)
