"""The conversation: inputs and server events in, state-machine actions executed out.

``Conversation`` owns everything about a conversation that outlives a single socket: the barge-in
state machine (``app.session.statemachine``), turn taking, the response gate, the assistant audio
track a barge-in may truncate, tool calls, transcripts, context and latency marks. The driver
(``app.session.driver``) owns the thread, the sockets and the writer; it calls
:meth:`Conversation.on_input`, :meth:`Conversation.on_server_event` and
:meth:`Conversation.dispatch`, and gives the conversation a ``send`` that queues client commands.

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
from app.session.config import SessionConfig, VadKind
from app.session.errors import Failure, classify_server_error, notice_for
from app.session.latency_marks import TurnMarks
from app.session.statemachine import Ev, ResponseGate, State, public_state, step
from app.session.tool_calls import ToolCalls
from app.session.turn_actions import TurnActions
from app.session.turns import TurnTaker
from app.session.uplink import SentAudio, UplinkBatch, UplinkChunk, UplinkQueue

log = logging.getLogger("app.session")
state_log = logging.getLogger("app.session.state")

# States in which a finished response's tool calls belong to a cut-off answer.
CUT_STATES = frozenset({State.INTERRUPTING, State.CANCELLING, State.INTERRUPTED_TURN_ENDED})
# States in which a command from the user cannot reach the provider yet.
OFFLINE_STATES = frozenset({State.DISCONNECTED, State.CONNECTING, State.RECONNECTING})


class ConnectionEnded(Exception):
    """Ends the current connection with a classified failure (None: renew or stop)."""

    def __init__(self, failure: Failure | None) -> None:
        super().__init__(failure.detail if failure else "renew")
        self.failure = failure


class Conversation(TurnActions):
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
            case SpeechStarted(at=at):
                if turns.local_vad_ends_turns and self.fsm is not State.USER_SPEAKING:
                    self._start_turn(await_chunk=True)
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
            case cmd.PushToTalkReleased():
                self.speech_end_at = self.clock()
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

    def _speech_end_ms(self, audio_end_ms: int) -> int:
        """Where the user's speech ended, in the server's input-audio milliseconds.

        With ``server_vad`` the reported ``audio_end_ms`` "includes the silence duration"
        (openai's type docs): it is when the server decided, not when the user stopped.
        Semantic VAD waits a variable time, so its figure is taken as it is.
        """
        if self.config.vad is VadKind.SERVER_VAD:
            return max(0, audio_end_ms - self.config.server_vad.silence_duration_ms)
        return audio_end_ms

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

    # ------------------------------------------------------------------ server events

    def on_server_event(self, event: m.ServerEvent) -> None:
        """Handle one decoded server event (raises ``ConnectionEnded`` on a fatal error)."""
        match event:
            case m.UserSpeechStarted(audio_start_ms=start_ms):
                self._on_server_speech_started(start_ms)
            case m.UserSpeechStopped(audio_end_ms=end_ms):
                if self.config.uses_server_vad() and end_ms >= 0:
                    pos = self.sent_audio.locate(self._speech_end_ms(end_ms))
                    end = self.marks.vad_speech_end(pos.captured_at) if pos else self.clock()
                    self.marks.mark("speech_end", end)
                self.feed(self.turns.server_speech_stopped(), "server VAD: speech stopped")
            case m.ResponseCreated(response_id=rid):
                self._on_response_created(rid)
            case m.AudioDelta():
                self._on_audio(event)
            case m.AudioDone(response_id=rid):
                if rid not in self.stale:
                    self.playback.end_response(rid)
            case m.AssistantTranscriptDelta(response_id=rid, item_id=item_id, delta=delta):
                if rid not in self.stale:
                    # A sentence's text may come before its audio (the local engine sends it
                    # first): the track a barge-in cuts must hold all of it.
                    self.track_item(rid, item_id, 0).text += delta
                if rid not in self.orphans and self.transcript is not None:
                    self.transcript.assistant_delta(item_id, delta)
            case m.AssistantTranscriptDone(response_id=rid, item_id=item_id, text=text):
                if rid not in self.orphans and self.transcript is not None:
                    self.transcript.assistant_done(item_id, text)
            case m.FunctionArgumentsDone(response_id=rid, call_id=call_id):
                if rid not in self.stale and rid not in self.orphans:
                    self.tools.start(rid, call_id, event.name, event.arguments)
            case m.ResponseDone():
                self._on_response_done(event)
            case m.UserTranscriptDelta(item_id=item_id, delta=delta):
                if self.transcript is not None:
                    self.transcript.user_delta(item_id, delta)
            case m.UserTranscriptDone(item_id=item_id, text=text):
                if self.transcript is not None:
                    self.transcript.user_done(item_id, text)
                if self.context is not None:
                    # A spoken turn's item carries no text: the replay needs the transcript.
                    self.context.on_item_text(item_id, text)
            case m.ItemAdded(done=True):
                self._on_item_done(event)
            case m.FunctionCallsCancelled(call_ids=call_ids):
                self.tools.withdraw(call_ids)
                if self.fsm is State.TOOL_RUNNING and self.tools.idle:
                    self.dispatch(Ev.INTERRUPT, "the provider withdrew the tool calls")
            case m.ItemDeleted(item_id=item_id):
                if self.context is not None:
                    self.context.on_item_deleted(item_id)
            case m.ServerError():
                self._on_server_error(event)
            case _:
                log.debug("server event %s", type(event).__name__)

    def _on_server_speech_started(self, start_ms: int) -> None:
        now = self.clock()
        if self.config.uses_server_vad() and self.fsm is not State.USER_SPEAKING:
            self._start_turn(await_chunk=False)
            pos = self.sent_audio.locate(start_ms)
            if pos is not None:
                self.marks.mark("capture", pos.chunk_captured_at)
                self.marks.mark("uplink_sent", pos.sent_at)
        self.feed(self.turns.server_speech_started(), "server VAD: speech started", now)

    def _on_item_done(self, event: m.ItemAdded) -> None:
        if self.context is None:
            return
        if event.item_type == "message":
            text = event.text
            if event.role == "assistant" and event.item_id in self.heard_text:
                text = self.heard_text.pop(event.item_id)
            self.context.on_item_added(event.item_id, event.role, text)
        elif event.item_type in ("function_call", "function_call_output"):
            self.context.on_item_added(event.item_id, "tool", "")
        else:
            return
        for item_id in self.context.items_to_delete():
            self.send(m.DeleteItem(item_id))

    def _on_response_created(self, rid: str) -> None:
        self.create_sent_at = None
        if self.gate.created(rid):
            log.info("cancelling abandoned response %s", rid)
            self.orphans.add(rid)
            self.stale.add(rid)
            self.playback.mark_stale(rid)
            self.expect_done(rid)
            self.send(m.CancelResponse(rid))
            return
        self.marks.response_created()
        self.dispatch(Ev.RESPONSE_CREATED, f"response {rid} created")

    def _on_audio(self, event: m.AudioDelta) -> None:
        if event.response_id in self.stale:
            self.late_deltas_dropped += 1
            return
        self.track_audio(event)
        self.marks.first_audio(event.response_id, event.item_id)
        self.pending_audio = event
        self.dispatch(Ev.AUDIO_RECEIVED, "audio")
        self.pending_audio = None

    def _on_response_done(self, event: m.ResponseDone) -> None:
        rid = event.response_id
        send_deferred = self.gate.done(rid)
        self.stale.discard(rid)
        self.done_due.pop(rid, None)
        if rid in self.orphans:
            self.orphans.discard(rid)
        else:
            calls: tuple[m.FunctionCall, ...] = ()
            if self.fsm not in CUT_STATES:
                calls = event.function_calls
                early = set(self.tools.calls_of(rid)) - {c.call_id for c in calls}
                calls += tuple(m.FunctionCall("", c, "", "") for c in sorted(early))
            self.pending_calls = calls
            kind = Ev.RESPONSE_DONE_WITH_TOOLS if calls else Ev.RESPONSE_DONE
            self.dispatch(kind, f"response {rid} {event.status}")
        if send_deferred:
            self.send(m.CreateResponse())

    def _on_server_error(self, event: m.ServerError) -> None:
        key = event.code or event.kind
        self.server_errors[key] += 1
        fatal = fatal_or_none(event)
        if fatal is not None:
            raise ConnectionEnded(fatal)
        if event.code == "response_cancel_not_active":
            # Our cancel crossed the response's own response.done (it ended while the cancel
            # was in flight): the response is over either way, which is what the cancel wanted.
            log.debug("response.cancel arrived after the response ended")
            return
        log.warning("server error %s: %s", key, event.message[:200])
        if event.code == "input_audio_buffer_commit_empty":
            self.emit(
                UserNotice(
                    NoticeLevel.INFO,
                    NoticeCategory.TURN,
                    "I did not catch any speech; please try again.",
                )
            )

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


def fatal_or_none(event: m.ServerError) -> Failure | None:
    """The failure an in-band error ends the session with, or None when it is not fatal."""
    category = classify_server_error(event.kind, event.code)
    if category is None:
        return None
    return Failure(category, f"{event.code or event.kind}: {event.message}"[:200])
