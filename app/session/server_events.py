"""The conversation's server-event half: decoded provider events turned into state-machine events.

``ServerEvents`` is mixed into :class:`app.session.conversation.Conversation` (which provides
the attributes and ``feed``/``dispatch``); it handles speech start/stop from a server VAD,
response creation and completion (the response gate, abandoned responses), audio deltas of
live and stale responses, transcripts, tool calls, context items and in-band errors. A fatal
error raises ``ConnectionEnded``, which ends the current connection
(``app.session.connection``).

Thread: the session loop thread only (the connection's reader calls ``on_server_event``).
"""

from __future__ import annotations

import collections
import logging

from app.events import NoticeCategory, NoticeLevel, UserNotice
from app.session import messages as m
from app.session.config import VadKind
from app.session.errors import Failure, classify_server_error
from app.session.states import Ev, State
from app.session.turn_actions import TurnActions

log = logging.getLogger("app.session")

# States in which a finished response's tool calls belong to a cut-off answer.
CUT_STATES = frozenset({State.INTERRUPTING, State.CANCELLING, State.INTERRUPTED_TURN_ENDED})


class ConnectionEnded(Exception):
    """Ends the current connection with a classified failure (None: renew or stop)."""

    def __init__(self, failure: Failure | None) -> None:
        super().__init__(failure.detail if failure else "renew")
        self.failure = failure


class ServerEvents(TurnActions):
    """Handles decoded server events; mixed into ``Conversation``, which provides the rest."""

    late_deltas_dropped: int
    server_errors: collections.Counter[str]

    def feed(self, event: Ev | None, reason: str, trigger_at: float | None = None) -> None:
        """Dispatch ``event`` unless it is None (provided by ``Conversation``)."""
        raise NotImplementedError

    def _start_turn(self, await_chunk: bool) -> None:
        """Open a new user turn's marks (provided by ``Conversation``)."""
        raise NotImplementedError

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

    def _speech_end_ms(self, audio_end_ms: int) -> int:
        """Where the user's speech ended, in the server's input-audio milliseconds.

        With ``server_vad`` the reported ``audio_end_ms`` "includes the silence duration"
        (openai's type docs): it is when the server decided, not when the user stopped.
        Semantic VAD waits a variable time, so its figure is taken as it is.
        """
        if self.config.vad is VadKind.SERVER_VAD:
            return max(0, audio_end_ms - self.config.server_vad.silence_duration_ms)
        return audio_end_ms

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


def fatal_or_none(event: m.ServerError) -> Failure | None:
    """The failure an in-band error ends the session with, or None when it is not fatal."""
    category = classify_server_error(event.kind, event.code)
    if category is None:
        return None
    return Failure(category, f"{event.code or event.kind}: {event.message}"[:200])
