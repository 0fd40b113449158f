"""The state machine's actions (``Act``), executed for the conversation.

``TurnActions`` is the half of :class:`app.session.conversation.Conversation` that carries out
what the pure table in ``app.session.statemachine`` decides: playback (flush, duck, queue),
client events (cancel, truncate, commit, create), tools and the repair note. Each ``Act`` value
``x`` is the method ``_act_x``.

Thread: the session loop thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.events import AudioChunk, NoticeCategory, NoticeLevel, UserNotice
from app.ports import PlaybackSink
from app.session import messages as m
from app.session.collaborators import ContextLike, TranscriptLike
from app.session.config import RepairPolicy, SessionConfig
from app.session.errors import Failure
from app.session.latency_marks import TurnMarks
from app.session.response_gate import ResponseGate, truncate_at
from app.session.states import Ev, State
from app.session.tool_calls import ToolCalls
from app.session.turns import TurnTaker
from app.session.uplink import SentAudio, UplinkQueue

# At most this much of the user's speech before the VAD decided is credited to a barge-in:
# over echo the capture DSP dates the evidence up to 250 ms before the VAD's decision
# (app.audio.dsp.doubletalk), and the stop is due min_interruption_ms after that evidence.
ONSET_CREDIT_MAX_S = 0.25


class AudioTrack:
    """Bookkeeping of the assistant audio item a barge-in may truncate."""

    __slots__ = ("content_index", "item_id", "received_bytes", "response_id", "text")

    def __init__(self, response_id: str, item_id: str, content_index: int) -> None:
        self.response_id = response_id
        self.item_id = item_id
        self.content_index = content_index
        self.received_bytes = 0
        self.text = ""


class TurnActions:
    """Executes ``Act`` values; mixed into ``Conversation``, which provides the attributes."""

    config: SessionConfig
    playback: PlaybackSink
    send: Callable[[m.ClientCommand], None]
    wake: Callable[[], None]
    emit: Callable[[object], None]
    clock: Callable[[], float]
    transcript: TranscriptLike | None
    context: ContextLike | None
    turns: TurnTaker[AudioChunk]
    gate: ResponseGate
    fsm: State
    marks: TurnMarks
    tools: ToolCalls
    uplink: UplinkQueue
    sent_audio: SentAudio
    failure: Failure | None
    truncates: bool
    renew: bool
    create_sent_at: float | None

    def dispatch(self, event: Ev, reason: str, trigger_at: float | None = None) -> None:
        """Step the state machine (provided by ``Conversation``)."""
        raise NotImplementedError

    def notify_failure(self) -> None:
        """Tell the user about a permanent failure (provided by ``Conversation``)."""
        raise NotImplementedError

    def schedule_tools_done(self, reason: str) -> None:
        """Dispatch ``TOOLS_DONE`` soon (provided by ``Conversation``)."""
        raise NotImplementedError

    def _init_turn_state(self) -> None:
        self.track: AudioTrack | None = None
        self.stale: set[str] = set()
        self.orphans: set[str] = set()
        self.pending_audio: m.AudioDelta | None = None
        self.pending_text = ""
        self.pending_role = "user"
        self.pending_calls: tuple[m.FunctionCall, ...] = ()
        self.heard_note: str | None = None
        self.speech_end_at: float | None = None
        self.await_first_chunk = False
        self._duck_timer: asyncio.TimerHandle | None = None
        self._duck_trigger_at: float | None = None
        # Where the evidence of the last local speech start began (SpeechStarted.evidence_at).
        self.speech_evidence_at: float | None = None
        self.heard_text: dict[str, str] = {}
        """Truncated assistant items: the text the user heard (what the context keeps)."""
        self.done_due: dict[str, float] = {}
        """Cut-off responses whose ``response.done`` is awaited, with when the wait began."""

    def expect_done(self, response_id: str) -> None:
        """A cut-off response must still end with ``response.done``; start its deadline."""
        self.done_due.setdefault(response_id, self.clock())

    def track_item(self, response_id: str, item_id: str, content_index: int) -> AudioTrack:
        """The track of ``item_id``, started afresh when a new assistant item begins."""
        track = self.track
        if track is None or track.item_id != item_id:
            track = self.track = AudioTrack(response_id, item_id, content_index)
        return track

    def track_audio(self, event: m.AudioDelta) -> None:
        """Count received audio of the item a barge-in would truncate."""
        track = self.track_item(event.response_id, event.item_id, event.content_index)
        track.content_index = event.content_index
        track.received_bytes += len(event.pcm)

    # ------------------------------------------------------------------ connection

    def _act_open_connection(self) -> None:
        """The supervisor opens connections; nothing to do here."""

    def _act_schedule_retry(self) -> None:
        """The supervisor schedules retries; nothing to do here."""

    def _act_renew_connection(self) -> None:
        self.renew = True
        self.wake()

    def _act_close_connection(self) -> None:
        self.wake()

    def _act_notify_failure(self) -> None:
        self.notify_failure()

    def _act_reset_turn(self) -> None:
        self._cancel_duck_timer()
        self.marks.cancel()
        self.turns.reset()
        self.gate.reset()
        self.tools.reset()
        self.stale.clear()
        self.orphans.clear()
        self.uplink.clear()
        self.track = None
        self.create_sent_at = None
        self.done_due.clear()
        self.heard_text.clear()
        self.pending_calls = ()
        self.await_first_chunk = False

    # ------------------------------------------------------------------ playback

    def _act_queue_playback(self) -> None:
        delta = self.pending_audio
        if delta is not None:
            self.playback.enqueue(
                delta.pcm,
                self.config.sample_rate,
                delta.response_id,
                delta.item_id,
                delta.content_index,
            )

    def _act_flush_playback(self) -> None:
        self._cancel_duck_timer()
        self.playback.flush()
        if self.marks.trigger_at is not None:
            self.marks.flushed()
        rid = self.gate.active
        if rid is not None:
            self.stale.add(rid)
            self.playback.mark_stale(rid)
            self.expect_done(rid)
        self.tools.interrupt()

    def _act_duck_playback(self) -> None:
        self.playback.duck(self.config.duck_gain)
        self._cancel_duck_timer()
        self._duck_trigger_at = self.marks.trigger_at
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        # "Speech lasting past min_interruption_ms" counts from when the evidence of the user's
        # speech began, not from the VAD's decision (which comes tens of ms later) nor from the
        # meter's earlier dating (which an echo leak can fake); a stale evidence stamp (older
        # than this trigger) is ignored and any credit is capped, so a blip never barges in.
        trigger = self._duck_trigger_at
        evidence = self.speech_evidence_at
        if trigger is not None and evidence is not None:
            trigger = max(trigger, evidence)
        spoken = 0.0 if trigger is None else min(ONSET_CREDIT_MAX_S, self.clock() - trigger)
        delay = max(0.0, self.config.min_interruption_ms / 1000 - max(0.0, spoken))
        self._duck_timer = loop.call_later(delay, self._interruption_due)

    def _interruption_due(self) -> None:
        self._duck_timer = None
        trigger, self._duck_trigger_at = self._duck_trigger_at, None
        self.dispatch(
            Ev.INTERRUPTION_CONFIRMED,
            "speech outlasted min_interruption_ms",
            trigger if trigger is not None else self.clock(),
        )

    def _cancel_duck_timer(self) -> None:
        if self._duck_timer is not None:
            self._duck_timer.cancel()
            self._duck_timer = None

    def _act_resume_playback(self) -> None:
        self._cancel_duck_timer()
        self.playback.resume()

    # ------------------------------------------------------------------ responses

    def _act_cancel_response(self) -> None:
        rid = self.gate.active
        if rid is not None:
            self.stale.add(rid)
            self.expect_done(rid)
            self.send(m.CancelResponse(rid))

    def _act_truncate_assistant(self) -> None:
        track, self.track = self.track, None
        self.heard_note = None
        if track is None:
            return
        received_ms = int(track.received_bytes / (self.config.sample_rate * 2 / 1000))
        played = self.playback.played_ms(track.item_id)
        done = self.gate.active != track.response_id
        end = truncate_at(played, received_ms, done)
        if end is None:
            return
        self.send(m.TruncateItem(track.item_id, track.content_index, end))
        if self.transcript is not None:
            self.transcript.assistant_truncated(track.item_id, end)
        if track.text and received_ms:
            cut = track.text[: int(len(track.text) * end / received_ms)]
            self.heard_note = cut.rsplit(" ", 1)[0] if " " in cut else cut
        # The server drops the unheard text; so must the context replayed after a reconnect,
        # also when the item's ``conversation.item.done`` (with the full text) comes later.
        heard = (self.heard_note or "").strip()
        self.heard_text[track.item_id] = heard
        if self.context is not None:
            self.context.on_item_text(track.item_id, heard)

    def _act_repair_context(self) -> None:
        heard, self.heard_note = self.heard_note, None
        # Without a truncate (Gemini) the note is the only way to keep "heard only" history.
        wanted = self.config.repair is RepairPolicy.HEARD_NOTE or not self.truncates
        if wanted and heard is not None:
            note = f'The user interrupted you. They heard only: "{heard}". Continue from there.'
            self.send(m.AddMessage("system", note))

    def _act_abandon_pending_response(self) -> None:
        self.gate.abandon()

    def _act_create_response(self) -> None:
        if self.gate.request():
            self.send(m.CreateResponse())

    # ------------------------------------------------------------------ user turns

    def _act_clear_input(self) -> None:
        self.uplink.clear()
        self.send(m.ClearInput())

    def _act_drop_user_speech(self) -> None:
        self.turns.drop_speech()
        self.await_first_chunk = False
        self._act_clear_input()

    def _act_end_user_turn(self) -> None:
        end = self.turns.turn_end()
        if not self.config.uses_server_vad():
            at = self.speech_end_at
            self.marks.mark("speech_end", at if at is not None else self.clock())
        self.speech_end_at = None
        if end.commit:
            self.flush_uplink()
            self.send(m.CommitInput())
        if end.create_response:
            self._act_create_response()

    def flush_uplink(self) -> None:
        """Queue every waiting chunk ahead of a commit (provided by the driver)."""
        raise NotImplementedError

    def _act_discard_turn(self) -> None:
        self.uplink.clear()
        self.send(m.ClearInput())
        self.emit(
            UserNotice(
                NoticeLevel.INFO,
                NoticeCategory.TURN,
                "That was too short to hear; hold the key while you speak.",
            )
        )

    def _act_send_text(self) -> None:
        self.marks.new_turn()
        self.send(m.AddMessage(self.pending_role, self.pending_text))
        self.marks.mark("speech_end", self.clock())

    # ------------------------------------------------------------------ tools

    def _act_cancel_tools(self) -> None:
        self.tools.interrupt()

    def _act_start_tools(self) -> None:
        calls, self.pending_calls = self.pending_calls, ()
        for call in calls:
            if call.name:  # calls started early carry no name here
                self.tools.start(self.gate.active or "", call.call_id, call.name, call.arguments)
        self.schedule_tools_done("tool calls already finished")

    def _act_send_tool_outputs(self) -> None:
        for output in self.tools.take_outputs():
            self.send(output)
