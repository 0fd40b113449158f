"""One client connection of the local engine: the protocol state machine.

``RealtimeSession.handle`` takes one client frame and answers with server events through the
injected ``send`` coroutine. It owns the session config, the input audio buffer and its VAD, the
conversation, and at most one active default-conversation response (the input audio part lives
in :mod:`app.local.input_audio`). Every malformed input becomes an ``error`` event echoing the
client's ``event_id``; nothing a client sends can raise out of ``handle``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time

from app.local import events as ev
from app.local.agent.engine import Agent, Speak
from app.local.config import ConfigError, TurnDetection, default_session, merge_session
from app.local.conversation import BYTES_PER_MS, Conversation, ConversationError
from app.local.events import JSON, new_id
from app.local.input_audio import InputAudio
from app.local.llm import ChatClient
from app.local.models import EngineModels
from app.local.presynth import PendingSynthesis
from app.local.protocol_errors import ProtocolError, field_of
from app.local.response import LLM_INTENTS, ResponseRun, Send
from app.local.timing import ResponseTiming, TimingSink
from app.local.transcribe import Transcriptions
from app.local.tts import first_clause, split_sentences
from app.local.vad import ServerVad

log = logging.getLogger("app.local.session")

TIMER_POLL_S = 0.5


class RealtimeSession(InputAudio):
    """Protocol state of one connection.

    Args:
        send: coroutine sending one server event to this client.
        models: the shared engines.
        model: the ``model`` query parameter (accepted as given).
        llm: optional chat endpoint used for open questions.
        timing_sink: receives each response's stage timings (the engine bench).

    Thread: the server's event loop only.
    """

    def __init__(
        self,
        send: Send,
        models: EngineModels,
        model: str | None = None,
        llm: ChatClient | None = None,
        timing_sink: TimingSink | None = None,
    ) -> None:
        self._send = send
        self._timing_sink = timing_sink
        self.models = models
        self.llm = llm
        self.config = default_session(model, models.describe())
        self.conversation = Conversation()
        self.conversation_id = new_id("conv")
        self.agent = Agent()
        self.transcriptions = Transcriptions(send, models, self.conversation)
        self.buffer = bytearray()
        self.buffer_start_ms = 0.0  # session ms at which ``buffer`` begins
        self._vad: ServerVad | None = None
        self._vad_origin = 0.0  # session ms at which the VAD's own clock starts
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._speculation: tuple[float, asyncio.Future[str]] | None = None
        self.active: ResponseRun | None = None
        self._tasks: dict[ResponseRun, asyncio.Task[None]] = {}
        self.audio_produced = False
        self._timer_task: asyncio.Task[None] | None = None
        self._turn_end: float | None = None  # monotonic ms the last user turn ended
        self._speculated = False  # the last turn's transcript came from the speculation
        self._idle_from_ms: float | None = None  # session ms the idle timeout counts from
        self._presynth: PendingSynthesis | None = None
        self._turn_presynth: PendingSynthesis | None = None

    async def start(self) -> None:
        """Send ``session.created`` (call once, right after the connection opened)."""
        await self._send(ev.session_created(self.config))
        await self._send(ev.conversation_created(self.conversation_id))
        self._timer_task = asyncio.create_task(self._ring_timers(), name="session-timers")

    async def close(self) -> None:
        """Cancel everything this session runs (the connection is gone)."""
        if self._timer_task is not None:
            self._timer_task.cancel()
        for run, task in list(self._tasks.items()):
            run.cancel(task, "client_cancelled")
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self.transcriptions.cancel_all()
        for pending in (self._presynth, self._turn_presynth):
            if pending is not None:
                pending.drop()

    def _plan_answer(self, transcript: str) -> tuple[str, float] | None:
        """What the answer to ``transcript`` would say first (asked of a copy of the agent)."""
        from app.local.items import response_params

        if not transcript:
            return None
        params = response_params(self.config, {}, self.conversation)
        if params.modalities == ["text"]:
            return None
        said: JSON = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": transcript}],
        }
        tools = params.tools if params.tool_choice != "none" else []
        decision = copy.deepcopy(self.agent).decide([*self.conversation.items, said], tools)
        if not isinstance(decision, Speak):
            return None
        if self.llm is not None and decision.intent in LLM_INTENTS:
            return None
        sentences = split_sentences(decision.text)
        return (first_clause(sentences[0])[0], params.speed) if sentences else None

    async def handle(self, raw: str | bytes) -> None:
        """Process one client frame."""
        client_event_id: str | None = None
        try:
            try:
                event = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ProtocolError(
                    "We could not parse the JSON body of your request.", "invalid_json"
                ) from exc
            if not isinstance(event, dict):
                raise ProtocolError("The event must be a JSON object.", "invalid_type")
            eid = event.get("event_id")
            client_event_id = eid if isinstance(eid, str) else None
            kind = event.get("type")
            handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise ProtocolError(
                    f"Invalid value: '{str(kind)[:80]}'. Unknown client event type.",
                    "invalid_value" if kind is not None else "missing_required_parameter",
                    "type",
                )
            await handler(self, event)
        except (ProtocolError, ConfigError, ConversationError) as exc:
            await self._send(
                ev.error(str(exc), code=exc.code, client_event_id=client_event_id, param=exc.param)
            )
        except Exception:
            log.exception("client event failed")
            await self._send(
                ev.error(
                    "The server had an error processing the event.",
                    code=None,
                    client_event_id=client_event_id,
                    type_="server_error",
                )
            )

    # --- session --------------------------------------------------------------------------

    async def _session_update(self, event: JSON) -> None:
        session = event.get("session")
        if session is None:
            raise ProtocolError(
                "Missing required parameter: 'session'.", "missing_required_parameter", "session"
            )
        self.config = merge_session(self.config, session, audio_produced=self.audio_produced)
        td = TurnDetection.from_session(self.config)
        if td is None:
            self._vad = None
            self._speech_item = None
        elif self._vad is not None:
            self._vad.configure(td)
        await self._send(ev.session_updated(self.config))

    # --- conversation ---------------------------------------------------------------------

    async def _item_create(self, event: JSON) -> None:
        from app.local.items import normalize_item

        item = normalize_item(field_of(event, "item", dict))
        previous = event.get("previous_item_id")
        if previous is not None and not isinstance(previous, str):
            raise ProtocolError(
                "Invalid type for 'previous_item_id'.", "invalid_type", "previous_item_id"
            )
        audio = item.pop("_audio", None)
        prev = self.conversation.insert(item, previous)
        await self._send(ev.conversation_item_added(item, prev))
        await self._send(ev.conversation_item_done(item, prev))
        if audio:
            self.conversation.track(str(item["id"])).pcm.extend(audio)
            if not item["content"][0].get("transcript"):
                self.transcriptions.start(str(item["id"]), audio, self._transcription_enabled())

    async def _item_delete(self, event: JSON) -> None:
        item_id = field_of(event, "item_id", str)
        self.conversation.delete(item_id)
        await self._send(ev.conversation_item_deleted(item_id))

    async def _item_retrieve(self, event: JSON) -> None:
        item_id = field_of(event, "item_id", str)
        await self._send(ev.conversation_item_retrieved(self.conversation.with_audio(item_id)))

    async def _item_truncate(self, event: JSON) -> None:
        item_id = field_of(event, "item_id", str)
        content_index = field_of(event, "content_index", int)
        audio_end_ms = field_of(event, "audio_end_ms", int)
        if audio_end_ms < 0 or content_index < 0:
            raise ProtocolError("Values must not be negative.", "invalid_value", "audio_end_ms")
        self.conversation.truncate(item_id, content_index, audio_end_ms)
        await self._send(ev.conversation_item_truncated(item_id, content_index, audio_end_ms))

    # --- responses ------------------------------------------------------------------------

    async def _response_create(self, event: JSON) -> None:
        overrides = field_of(event, "response", dict, required=False) or {}
        conversation = overrides.get("conversation", "auto")
        if conversation not in ("auto", "none", None):
            raise ProtocolError(
                "conversation must be 'auto' or 'none'.", "invalid_value", "response.conversation"
            )
        if conversation != "none" and self.active is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response",
            )
        await self._start_response(overrides)

    async def _start_response(self, overrides: JSON, announce: str | None = None) -> None:
        from app.local.items import response_params

        params = response_params(self.config, overrides, self.conversation)
        params.announce = announce
        timing = ResponseTiming(turn_end=self._turn_end)
        timing.info["speculated"] = self._speculated
        self._turn_end = None
        self._idle_from_ms = None
        presynth, self._turn_presynth = self._turn_presynth, None
        if presynth is not None and announce is not None:
            presynth.drop()
            presynth = None
        run = ResponseRun(
            params=params,
            send=self._send,
            conversation=self.conversation,
            agent=self.agent,
            tts=lambda: self.models.tts,
            llm=self.llm,
            prepare=self.transcriptions.wait_all,
            executor=self.models.tts_executor,
            conversation_id=self.conversation_id,
            timing=timing,
            sink=self._timing_sink,
            presynth=presynth,
        )
        if params.in_conversation:
            self.active = run
        # Announced before anything else is handled: a speech_started or cancel that follows
        # in the same read then refers to a response the client already knows.
        try:
            await run.announce()
        except BaseException:
            if self.active is run:  # never left as an active response nobody drives
                self.active = None
            raise
        task = asyncio.create_task(self._drive(run), name=f"response-{run.id}")
        self._tasks[run] = task

    async def _drive(self, run: ResponseRun) -> None:
        started = time.monotonic()
        try:
            await run.run()
        finally:
            self.audio_produced = self.audio_produced or run.produced_audio
            self._tasks.pop(run, None)
            if self.active is run:
                self.active = None
            if run.params.in_conversation and self._vad is not None:
                # idle time counts from when the answer has been played out
                self._idle_from_ms = self.session_ms + run.audio_bytes / BYTES_PER_MS
            log.debug(
                "response %s finished in %.0f ms", run.id, (time.monotonic() - started) * 1000
            )

    async def cancel_active(self, reason: str) -> None:
        """Cancel the active response and wait until its ``response.done`` was sent."""
        run = self.active
        if run is None:
            return
        task = self._tasks.get(run)
        self.active = None
        run.cancel(task, reason)  # a run still being announced has no task yet: it is flagged
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _response_cancel(self, event: JSON) -> None:
        response_id = field_of(event, "response_id", str, required=False)
        target = self.active
        if response_id is not None:
            target = next((r for r in self._tasks if r.id == response_id), None)
        if target is None:
            raise ProtocolError(
                "Cancellation failed: no active response found", "response_cancel_not_active"
            )
        if target is self.active:
            await self.cancel_active("client_cancelled")
            return
        task = self._tasks.get(target)
        if task is not None:
            target.cancel(task, "client_cancelled")
            await asyncio.gather(task, return_exceptions=True)

    async def _ring_timers(self) -> None:
        """Announce timers set through the offline agent when they are due.

        One failed announcement is logged and the loop goes on: later timers still ring.
        """
        while True:
            try:
                await self._ring_due_timers()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("announcing a timer failed")
                await asyncio.sleep(TIMER_POLL_S)

    async def _ring_due_timers(self) -> None:
        timers = self.agent.memory.timers
        due_at = timers.next_due()
        now = self.agent.mono()
        await asyncio.sleep(TIMER_POLL_S if due_at is None else min(TIMER_POLL_S, due_at - now))
        due = timers.pop_due(self.agent.mono())
        if not due:
            return
        while (run := self.active) is not None:  # no talking over
            task = self._tasks.get(run)
            if task is None:  # still being announced
                await asyncio.sleep(TIMER_POLL_S / 10)
            else:  # wait, not gather: cancelling this loop must not cancel the response
                await asyncio.wait([task])
        await self._start_response({}, announce=" ".join(t.announcement() for t in due))

    async def _output_audio_clear(self, event: JSON) -> None:
        raise ProtocolError(
            "output_audio_buffer.clear is only supported for WebRTC and SIP sessions.",
            "invalid_value",
            "type",
        )


_HANDLERS = {
    "session.update": RealtimeSession._session_update,
    "input_audio_buffer.append": RealtimeSession._append,
    "input_audio_buffer.commit": RealtimeSession._commit,
    "input_audio_buffer.clear": RealtimeSession._clear,
    "conversation.item.create": RealtimeSession._item_create,
    "conversation.item.delete": RealtimeSession._item_delete,
    "conversation.item.retrieve": RealtimeSession._item_retrieve,
    "conversation.item.truncate": RealtimeSession._item_truncate,
    "response.create": RealtimeSession._response_create,
    "response.cancel": RealtimeSession._response_cancel,
    "output_audio_buffer.clear": RealtimeSession._output_audio_clear,
}
