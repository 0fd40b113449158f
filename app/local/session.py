"""One client connection of the local engine: the protocol state machine.

``RealtimeSession.handle`` takes one client frame and answers with server events through the
injected ``send`` coroutine. It owns the session config, the input audio buffer and its VAD, the
conversation, and at most one active default-conversation response. Every malformed input becomes
an ``error`` event echoing the client's ``event_id``; nothing a client sends can raise out of
``handle``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from typing import Any

from app.local import events as ev
from app.local.agent.engine import Agent
from app.local.config import ConfigError, TurnDetection, default_session, merge_session
from app.local.conversation import BYTES_PER_MS, Conversation, ConversationError
from app.local.events import JSON, new_id
from app.local.llm import ChatClient
from app.local.models import EngineModels
from app.local.response import ResponseRun, Send
from app.local.transcribe import Transcriptions
from app.local.vad import ServerVad

log = logging.getLogger("app.local.session")

MAX_APPEND_BYTES = 15 * 1024 * 1024
MAX_BUFFER_BYTES = 64 * 1024 * 1024
MIN_COMMIT_MS = 100
SPECULATE_AFTER_MS = 160  # start STT this far into the closing silence
KEEP_BEFORE_SPEECH_MS = 1000  # beyond the padding, kept for a speech start not yet confirmed
TIMER_POLL_S = 0.5


class ProtocolError(ValueError):
    """A client event that cannot be honoured; becomes an ``error`` event."""

    def __init__(self, message: str, code: str | None, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


def _field(event: JSON, name: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    value = event.get(name)
    if value is None:
        if required:
            raise ProtocolError(
                f"Missing required parameter: '{name}'.", "missing_required_parameter", name
            )
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProtocolError(f"Invalid type for '{name}'.", "invalid_type", name)
    return value


class RealtimeSession:
    """Protocol state of one connection.

    Args:
        send: coroutine sending one server event to this client.
        models: the shared engines.
        model: the ``model`` query parameter (accepted as given).
        llm: optional chat endpoint used for open questions.

    Thread: the server's event loop only.
    """

    def __init__(
        self,
        send: Send,
        models: EngineModels,
        model: str | None = None,
        llm: ChatClient | None = None,
    ) -> None:
        self._send = send
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

    async def start(self) -> None:
        """Send ``session.created`` (call once, right after the connection opened)."""
        await self._send(ev.session_created(self.config))
        self._timer_task = asyncio.create_task(self._ring_timers(), name="session-timers")

    async def close(self) -> None:
        """Cancel everything this session runs (the connection is gone)."""
        if self._timer_task is not None:
            self._timer_task.cancel()
        for run, task in list(self._tasks.items()):
            run.cancel(task, "client_cancelled")
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self.transcriptions.cancel_all()

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

    # --- input audio ----------------------------------------------------------------------

    @property
    def session_ms(self) -> float:
        """Session milliseconds of input audio received so far."""
        return self.buffer_start_ms + len(self.buffer) / BYTES_PER_MS

    async def _append(self, event: JSON) -> None:
        audio = _field(event, "audio", str)
        if len(audio) > MAX_APPEND_BYTES * 4 // 3 + 4:
            raise ProtocolError("Audio chunk exceeds 15 MiB.", "invalid_value", "audio")
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("Invalid base64 audio.", "invalid_value", "audio") from exc
        if len(self.buffer) + len(pcm) > MAX_BUFFER_BYTES:
            raise ProtocolError(
                "The input audio buffer is full; commit or clear it.", "invalid_value", "audio"
            )
        self.buffer.extend(pcm[: len(pcm) // 2 * 2])
        td = TurnDetection.from_session(self.config)
        if td is None:
            return
        if self._vad is None:
            self._vad = ServerVad(td, self.models.new_scorer())
            self._vad_origin = self.buffer_start_ms
            # audio that arrived before VAD existed is scored too, so timing stays exact
            decisions = self._vad.feed(bytes(self.buffer))
        else:
            decisions = self._vad.feed(pcm)
        for decision in decisions:
            ms = int(decision.ms + self._vad_origin)
            if decision.kind == "started":
                await self._on_speech_started(ms, td)
            else:
                await self._on_speech_stopped(ms, td)
        if not self._vad.in_speech:
            # Outside speech only a coming start's padding can still be needed: hands-free
            # silence must not fill the buffer until appends are refused.
            self._drop_buffer_until(self.session_ms - td.prefix_padding_ms - KEEP_BEFORE_SPEECH_MS)
        if self._vad.silence_ms >= SPECULATE_AFTER_MS and self._speculation is None:
            self._speculate()
        elif self._vad.in_speech and self._vad.silence_ms == 0 and self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None

    def _speculate(self) -> None:
        """Transcribe the turn while its closing silence is still being confirmed."""
        end_ms = self.session_ms
        pcm = self._slice(self._speech_start_ms, end_ms)
        self._speculation = (end_ms, self.transcriptions.speculate(pcm))

    def _slice(self, start_ms: float, end_ms: float) -> bytes:
        a = max(0, int((start_ms - self.buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        b = max(a, int((end_ms - self.buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        return bytes(self.buffer[a:b])

    async def _on_speech_started(self, start_ms: int, td: TurnDetection) -> None:
        self._speech_item = new_id("item")
        self._speech_start_ms = start_ms
        self._speculation = None
        await self._send(ev.speech_started(start_ms, self._speech_item))
        if td.interrupt_response and self.active is not None:
            await self.cancel_active("turn_detected")

    async def _on_speech_stopped(self, end_ms: int, td: TurnDetection) -> None:
        item_id = self._speech_item or new_id("item")
        await self._send(ev.speech_stopped(end_ms, item_id))
        pcm = self._slice(self._speech_start_ms, end_ms)
        speculation = self._speculation
        self._speculation = None
        self._drop_buffer_until(end_ms)
        self._speech_item = None
        await self._commit_audio(item_id, pcm, speculation[1] if speculation else None)
        if td.create_response and self.active is None:
            await self._start_response({})

    def _drop_buffer_until(self, ms: float) -> None:
        cut = max(0, int((ms - self.buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        del self.buffer[:cut]
        self.buffer_start_ms += cut / BYTES_PER_MS

    async def _commit_audio(
        self, item_id: str, pcm: bytes, speculation: asyncio.Future[str] | None = None
    ) -> None:
        item: JSON = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        previous = self.conversation.insert(item)
        self.conversation.track(item_id).pcm.extend(pcm)
        await self._send(ev.buffer_committed(item_id, previous))
        await self._send(ev.conversation_item_added(item, previous))
        await self._send(ev.conversation_item_done(item, previous))
        self.transcriptions.start(item_id, pcm, self._transcription_enabled(), speculation)

    def _transcription_enabled(self) -> bool:
        audio = self.config.get("audio") or {}
        return isinstance((audio.get("input") or {}).get("transcription"), dict)

    async def _commit(self, event: JSON) -> None:
        if len(self.buffer) < MIN_COMMIT_MS * BYTES_PER_MS:
            raise ProtocolError(
                f"Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{len(self.buffer) / BYTES_PER_MS:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
            )
        item_id = self._speech_item or new_id("item")
        pcm = bytes(self.buffer)
        self._drop_buffer_until(self.session_ms)
        self._reset_vad()
        await self._commit_audio(item_id, pcm)

    def _reset_vad(self) -> None:
        self._speech_item = None
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None
        if self._vad is not None:
            self._vad.force_stop()
            self._vad.set_floor()

    async def _clear(self, event: JSON) -> None:
        self._drop_buffer_until(self.session_ms)
        self._reset_vad()
        await self._send(ev.buffer_cleared())

    # --- conversation ---------------------------------------------------------------------

    async def _item_create(self, event: JSON) -> None:
        from app.local.items import normalize_item

        item = normalize_item(_field(event, "item", dict))
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
        item_id = _field(event, "item_id", str)
        self.conversation.delete(item_id)
        await self._send(ev.conversation_item_deleted(item_id))

    async def _item_retrieve(self, event: JSON) -> None:
        item_id = _field(event, "item_id", str)
        await self._send(ev.conversation_item_retrieved(self.conversation.with_audio(item_id)))

    async def _item_truncate(self, event: JSON) -> None:
        item_id = _field(event, "item_id", str)
        content_index = _field(event, "content_index", int)
        audio_end_ms = _field(event, "audio_end_ms", int)
        if audio_end_ms < 0 or content_index < 0:
            raise ProtocolError("Values must not be negative.", "invalid_value", "audio_end_ms")
        self.conversation.truncate(item_id, content_index, audio_end_ms)
        await self._send(ev.conversation_item_truncated(item_id, content_index, audio_end_ms))

    # --- responses ------------------------------------------------------------------------

    async def _response_create(self, event: JSON) -> None:
        overrides = _field(event, "response", dict, required=False) or {}
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
        )
        if params.in_conversation:
            self.active = run
        # Announced before anything else is handled: a speech_started or cancel that follows
        # in the same read then refers to a response the client already knows.
        await run.announce()
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
        response_id = _field(event, "response_id", str, required=False)
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
        """Announce timers set through the offline agent when they are due."""
        timers = self.agent.memory.timers
        while True:
            due_at = timers.next_due()
            now = self.agent.mono()
            await asyncio.sleep(TIMER_POLL_S if due_at is None else min(TIMER_POLL_S, due_at - now))
            due = timers.pop_due(self.agent.mono())
            if not due:
                continue
            while (run := self.active) is not None:  # no talking over
                task = self._tasks.get(run)
                if task is None:  # still being announced
                    await asyncio.sleep(TIMER_POLL_S / 10)
                else:  # wait, not gather: cancelling this loop must not cancel the response
                    await asyncio.wait([task])
            text = " ".join(t.announcement() for t in due)
            await self._start_response({}, announce=text)

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
