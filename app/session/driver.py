"""The session driver: an asyncio loop in the ``session-loop`` thread that owns the connection.

Per connection one reader and one writer task; reconnects with jittered exponential backoff;
failures classified once (``app.session.errors``). The barge-in state machine decides and the
driver executes its actions: playback (``PlaybackSink``), client events, tools, transcripts,
context and latency marks. Commands arrive through ``submit`` from any thread; control commands
are handled at once on the loop, microphone audio goes to a bounded inbox (oldest dropped,
counted) that the writer drains only when no control frame is waiting.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import websockets
from websockets.asyncio.client import ClientConnection

from app.events import (
    AssistantState,
    AudioChunk,
    ConnectionChanged,
    ConnectionState,
    NoticeCategory,
    NoticeLevel,
    Observer,
    PlaybackDrained,
    SessionStateChanged,
    SpeechStarted,
    SpeechStopped,
    ToolStatus,
    UserNotice,
)
from app.ports import PlaybackSink
from app.runtime import commands as cmd
from app.session import messages as m
from app.session.config import RepairPolicy, SessionConfig, TurnMode, auth_headers, realtime_url
from app.session.errors import (
    ErrorCategory,
    Failure,
    classify_close,
    classify_exception,
    classify_server_error,
    notice_for,
)
from app.session.protocol.openai import OpenAICodec
from app.session.statemachine import Act, Ev, ResponseGate, State, public_state, step, truncate_at
from app.session.turns import TurnTaker

log = logging.getLogger("app.session")
state_log = logging.getLogger("app.session.state")


class ToolRunnerLike(Protocol):
    """The part of ``app.session.tools.ToolRunner`` the driver uses."""

    def start(self, call_id: str, name: str, arguments_json: str) -> None:
        """Start a completed call; the result comes back through ``on_done``."""

    def cancel_interruptible(self) -> list[str]:
        """Cancel interruptible calls (their cancelled results are reported at once)."""

    def mark_stale(self, call_ids: list[str]) -> None:
        """Flag calls whose results must never be spoken."""

    def running(self) -> list[str]:
        """Ids of calls still running."""


class ToolResultLike(Protocol):
    """The fields of ``app.session.tools.ToolResult`` the driver reads."""

    @property
    def call_id(self) -> str:
        """The provider's call id."""

    @property
    def output(self) -> str:
        """Text for ``function_call_output``."""

    @property
    def status(self) -> ToolStatus:
        """How the call ended."""

    @property
    def stale(self) -> bool:
        """Whether the result must never be spoken."""


ToolsFactory = Callable[
    [Callable[[ToolResultLike], None]], tuple[ToolRunnerLike, Sequence[Mapping[str, Any]]]
]
"""Builds the runner with the driver's ``on_done`` and returns it with the tool schemas."""


class TranscriptLike(Protocol):
    """``app.session.transcripts.Transcript`` as the driver uses it."""

    def user_delta(self, item_id: str, delta: str) -> None:
        """A piece of the user's transcript."""

    def user_done(self, item_id: str, text: str) -> None:
        """The user's full transcript."""

    def assistant_delta(self, item_id: str, delta: str) -> None:
        """A piece of the assistant's transcript."""

    def assistant_done(self, item_id: str, text: str) -> None:
        """The assistant's full transcript."""

    def assistant_truncated(self, item_id: str, heard_ms: int) -> None:
        """The assistant item was cut after ``heard_ms``."""


class ContextLike(Protocol):
    """``app.session.context.ContextPolicy`` as the driver uses it."""

    def on_item_added(self, item_id: str, role: str, text: str) -> None:
        """A completed conversation item."""

    def items_to_delete(self) -> list[str]:
        """Server items to delete now."""

    def replay_items(self) -> list[dict[str, Any]]:
        """Kept turns to replay as text after a reconnect (``role`` and ``text`` keys)."""


class MemoryLike(Protocol):
    """``app.session.memory.Memory`` as the driver uses it."""

    def instructions_block(self) -> str:
        """Pinned facts to append to the instructions."""


class MeterLike(Protocol):
    """``app.metrics.latency.LatencyMeter`` as the driver uses it."""

    def mark(self, turn_id: str, name: str, t: float) -> None:
        """Record a monotonic timestamp for one turn."""


class _ConnectionEnded(Exception):
    """Ends the current connection with a classified failure (None: renew or stop)."""

    def __init__(self, failure: Failure | None) -> None:
        super().__init__(failure.detail if failure else "renew")
        self.failure = failure


class _AudioTrack:
    """Bookkeeping of the assistant audio item a barge-in may truncate."""

    __slots__ = ("content_index", "item_id", "received_bytes", "response_id", "text")

    def __init__(self, response_id: str, item_id: str, content_index: int) -> None:
        self.response_id = response_id
        self.item_id = item_id
        self.content_index = content_index
        self.received_bytes = 0
        self.text = ""


def backoff_delay(attempt: int, config: SessionConfig, retry_after: float | None = None) -> float:
    """Return the jittered exponential delay before reconnect attempt ``attempt`` (1-based)."""
    base = config.backoff_initial_s * config.backoff_factor ** max(0, attempt - 1)
    delay = min(config.backoff_max_s, base) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class SessionDriver:
    """Runs one realtime conversation against an OpenAI-Realtime-compatible server.

    Args:
        config: endpoint, voice, turn taking and limits.
        playback: the audio engine's playback side.
        observer: receives ``SessionStateChanged``, ``ConnectionChanged``, ``UserNotice``.
        auth: returns the secret for the auth header (``None``: no header), called per connect.
        tools: builds the tool runner (given the driver's result callback) and its schemas.
        transcript: receives transcript pieces.
        context: keeps the last turns and replays them after a reconnect.
        meter: receives latency marks.
        memory: pinned facts appended to the instructions.
        clock: monotonic clock (tests may replace it).

    Thread: ``start``, ``stop``, ``submit``, ``reconfigure`` and ``state`` may be called from
    any thread; everything else runs on the ``session-loop`` thread.
    """

    def __init__(
        self,
        config: SessionConfig,
        playback: PlaybackSink,
        observer: Observer,
        auth: Callable[[], str | None],
        tools: ToolsFactory | None = None,
        transcript: TranscriptLike | None = None,
        context: ContextLike | None = None,
        meter: MeterLike | None = None,
        memory: MemoryLike | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._playback = playback
        self._observer = observer
        self._auth = auth
        self._tools_factory = tools
        self._transcript = transcript
        self._context = context
        self._meter = meter
        self._memory = memory
        self._clock = clock
        self._codec = OpenAICodec(config.max_frame_bytes)
        self._turns = TurnTaker(config)
        self._gate = ResponseGate()
        self._fsm = State.DISCONNECTED
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._ws: ClientConnection | None = None
        self._out: collections.deque[str] = collections.deque()
        self._audio: collections.deque[bytes] = collections.deque()
        self._runner: ToolRunnerLike | None = None
        self._tool_schemas: tuple[dict[str, object], ...] = ()
        self._failure: Failure | None = None
        self._connected_at = 0.0
        self._renew = False
        self._create_sent_at: float | None = None
        self._duck_timer: asyncio.TimerHandle | None = None
        self._track: _AudioTrack | None = None
        self._stale: set[str] = set()
        self._orphans: set[str] = set()
        self._pending_audio: m.AudioDelta | None = None
        self._pending_text = ""
        self._pending_calls: tuple[m.FunctionCall, ...] = ()
        self._tool_outputs: list[m.AddFunctionOutput] = []
        self._heard_note: str | None = None
        self._turn_seq = 0
        self._turn_id = "turn-0"
        self._first_audio_marked = False
        self.uplink_dropped = 0
        self.late_deltas_dropped = 0
        self.server_errors: collections.Counter[str] = collections.Counter()
        self.sent: collections.Counter[str] = collections.Counter()

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> AssistantState:
        """What the conversation is doing, as the GUI shows it."""
        return public_state(self._fsm)

    @property
    def fsm_state(self) -> State:
        """The internal state-machine state (for tests and logs)."""
        return self._fsm

    @property
    def codec(self) -> OpenAICodec:
        """The codec (its counters of malformed and unknown events)."""
        return self._codec

    def start(self) -> None:
        """Start the ``session-loop`` thread and connect."""
        if self._thread is not None:
            raise RuntimeError("the session driver was already started")
        self._thread = threading.Thread(target=self._thread_main, name="session-loop", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=5.0):
            raise RuntimeError("the session loop did not start")

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the connection and end the loop thread; False if it did not end in time."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return True
        try:
            loop.call_soon_threadsafe(self._request_stop)
        except RuntimeError:  # the loop already closed
            pass
        thread.join(timeout)
        return not thread.is_alive()

    def submit(self, command: object) -> None:
        """Post a command or an audio-side event (thread-safe, never blocks)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.debug("session not running; dropped %s", type(command).__name__)
            return
        try:
            loop.call_soon_threadsafe(self._accept, command)
        except RuntimeError:
            log.debug("session loop closed; dropped %s", type(command).__name__)

    def reconfigure(self, config: SessionConfig) -> None:
        """Apply new settings: sent as ``session.update`` when connected (thread-safe)."""
        self.submit(_Reconfigure(config))

    # ------------------------------------------------------------------ loop thread

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._stop_event = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready.set()
        try:
            loop.run_until_complete(self._main())
        except Exception:
            log.exception("session loop crashed")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _main(self) -> None:
        if self._tools_factory is not None:
            runner, schemas = self._tools_factory(self._on_tool_done)
            self._runner = runner
            self._tool_schemas = tuple(dict(schema) for schema in schemas)
        try:
            await self._supervise()
        finally:
            aclose = getattr(self._runner, "aclose", None)
            if aclose is not None:
                await aclose()

    def _request_stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._dispatch(Ev.STOP, "stop requested")
        self._emit(
            ConnectionChanged(
                self._config.provider, self._config.model, ConnectionState.DISCONNECTED
            )
        )
        assert self._stop_event is not None and self._wake is not None
        self._stop_event.set()
        self._wake.set()

    async def _sleep_or_stop(self, delay: float) -> None:
        assert self._stop_event is not None
        try:
            await asyncio.wait_for(self._stop_event.wait(), timeout=delay)
        except TimeoutError:
            pass

    async def _supervise(self) -> None:
        assert self._stop_event is not None
        self._dispatch(Ev.START, "start")
        failures = 0
        while not self._stopping:
            conn = ConnectionState.RECONNECTING if failures else ConnectionState.CONNECTING
            self._emit(ConnectionChanged(self._config.provider, self._config.model, conn))
            self._connected_at = 0.0
            failure = await self._connect_once()
            if self._stopping:
                break
            if failure is None:
                failures = 0
                continue
            if self._connected_at:
                failures = 0
            failures += 1
            log.warning("connection failed (%s): %s", failure.category.value, failure.detail)
            if not failure.category.is_permanent and failures > self._config.max_retries:
                failure = Failure(failure.category, f"gave up after {failures - 1} retries")
            if failure.category.is_permanent or failures > self._config.max_retries:
                self._failure = failure
                self._dispatch(Ev.PERMANENT_FAILURE, failure.detail)
                self._emit(
                    ConnectionChanged(
                        self._config.provider,
                        self._config.model,
                        ConnectionState.FAILED,
                        failure.detail,
                    )
                )
                await self._stop_event.wait()
                break
            self._dispatch(Ev.CONNECTION_LOST, failure.detail)
            delay = backoff_delay(failures, self._config, failure.retry_after_s)
            log.info("reconnecting in %.2f s (attempt %d)", delay, failures)
            await self._sleep_or_stop(delay)
            if not self._stopping:
                self._dispatch(Ev.RETRY_DUE, f"attempt {failures}")

    async def _connect_once(self) -> Failure | None:
        config = self._config
        try:
            secret = self._auth()
        except Exception as exc:
            log.warning("could not read the API key: %s", type(exc).__name__)
            return Failure(ErrorCategory.AUTHENTICATION, "could not read the API key")
        try:
            async with asyncio.timeout(config.connect_timeout_s):
                ws = await websockets.connect(
                    realtime_url(config),
                    additional_headers=auth_headers(config, secret),
                    max_size=2 * config.max_frame_bytes,
                    ping_interval=config.ping_interval_s,
                    ping_timeout=config.ping_timeout_s,
                    close_timeout=config.close_timeout_s,
                    open_timeout=None,
                    user_agent_header="VoxDesk",
                )
        except Exception as exc:
            return classify_exception(exc)
        try:
            return await self._run_connection(ws)
        finally:
            self._ws = None
            self._out.clear()
            try:
                await asyncio.wait_for(asyncio.shield(ws.close()), config.close_timeout_s + 1.0)
            except Exception:
                log.debug("close handshake did not finish")

    async def _run_connection(self, ws: ClientConnection) -> Failure | None:
        try:
            async with asyncio.timeout(self._config.connect_timeout_s):
                while True:
                    event = self._codec.decode(await ws.recv())
                    if isinstance(event, m.SessionStarted):
                        break
                    if isinstance(event, m.ServerError):
                        return self._fatal_or_none(event) or Failure(
                            ErrorCategory.SERVER, event.message[:200]
                        )
        except Exception as exc:
            return classify_exception(exc)
        self._ws = ws
        self._out.clear()
        self._connected_at = self._clock()
        self._send(self._configure_command())
        self._replay_context()
        self._dispatch(Ev.CONNECTED, "session created")
        self._emit(
            ConnectionChanged(self._config.provider, self._config.model, ConnectionState.CONNECTED)
        )
        reader = asyncio.create_task(self._reader(ws), name="session-reader")
        writer = asyncio.create_task(self._writer(ws), name="session-writer")
        done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        errors = [task.exception() for task in done]  # retrieve every one
        for error in errors:
            if isinstance(error, _ConnectionEnded):
                return error.failure
        for error in errors:
            if error is not None:
                return classify_exception(error)
        return None

    def _configure_command(self) -> m.ConfigureSession:
        instructions = self._config.instructions
        if self._memory is not None:
            block = self._memory.instructions_block()
            if block:
                instructions = f"{instructions}\n\n{block}"
        return m.ConfigureSession(self._config, self._tool_schemas, instructions)

    def _replay_context(self) -> None:
        if self._context is None:
            return
        for entry in self._context.replay_items():
            role, text = entry.get("role"), entry.get("text")
            if isinstance(role, str) and isinstance(text, str) and text:
                self._send(m.AddMessage(role, text))

    # ------------------------------------------------------------------ reader / writer

    async def _reader(self, ws: ClientConnection) -> None:
        async for frame in ws:
            event = self._codec.decode(frame)
            if event is not None:
                self._on_server_event(event)
        code = ws.close_code
        reason = ws.close_reason or ""
        raise _ConnectionEnded(Failure(classify_close(code), f"closed {code}: {reason}"[:200]))

    async def _writer(self, ws: ClientConnection) -> None:
        assert self._wake is not None
        while not self._stopping:
            if self._out:
                await ws.send(self._out.popleft())
                continue
            if self._audio:
                await ws.send(self._codec.encode(m.AppendAudio(self._take_audio())))
                self.sent["input_audio_buffer.append"] += 1
                continue
            self._check_deadlines()
            if self._renew:
                self._renew = False
                raise _ConnectionEnded(None)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=0.25)
            except TimeoutError:
                pass

    def _take_audio(self) -> bytes:
        limit = int(self._config.sample_rate * 2 * self._config.uplink_batch_ms / 1000)
        parts: list[bytes] = []
        size = 0
        while self._audio and (not parts or size + len(self._audio[0]) <= limit):
            chunk = self._audio.popleft()
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)

    def _check_deadlines(self) -> None:
        now = self._clock()
        sent = self._create_sent_at
        if sent is not None and now - sent > self._config.response_timeout_s:
            self._create_sent_at = None
            raise _ConnectionEnded(
                Failure(ErrorCategory.SERVER, "the server did not answer response.create")
            )
        if self._connected_at and now - self._connected_at > self._config.renew_after_s:
            if self._fsm is State.LISTENING:
                self._dispatch(Ev.RENEW, "session age limit ahead")

    def _send(self, command: m.ClientCommand) -> None:
        if self._ws is None:
            log.debug("not connected; dropped %s", type(command).__name__)
            return
        payload = self._codec.payload(command)
        self.sent[str(payload["type"])] += 1
        self._out.append(_json(payload))
        if isinstance(command, m.CreateResponse):
            self._create_sent_at = self._clock()
        if self._wake is not None:
            self._wake.set()

    def _flush_audio_into_out(self) -> None:
        while self._audio:
            self._send(m.AppendAudio(self._take_audio()))

    # ------------------------------------------------------------------ inputs

    def _accept(self, command: object) -> None:
        try:
            self._accept_unsafe(command)
        except Exception:
            log.exception("failed to handle %s", type(command).__name__)

    def _accept_unsafe(self, command: object) -> None:
        turns = self._turns
        match command:
            case AudioChunk():
                if self._ws is None:
                    return
                for pcm in turns.uplink(command.pcm):
                    if len(self._audio) >= self._config.uplink_queue_chunks:
                        self._audio.popleft()
                        self.uplink_dropped += 1
                    self._audio.append(pcm)
                if self._wake is not None:
                    self._wake.set()
            case SpeechStarted():
                self._feed(turns.local_speech_started(), "local VAD: speech started")
            case SpeechStopped():
                self._feed(turns.local_speech_stopped(), "local VAD: speech stopped")
            case PlaybackDrained():
                self._dispatch(Ev.PLAYBACK_DRAINED, "playback drained")
            case cmd.PushToTalkPressed():
                self._feed(turns.ptt_pressed(), "push-to-talk pressed")
            case cmd.PushToTalkReleased():
                self._feed(turns.ptt_released(), "push-to-talk released")
            case cmd.Interrupt():
                self._dispatch(Ev.INTERRUPT, "interrupt requested")
            case cmd.SendText(text=text):
                self._pending_text = text
                self._dispatch(Ev.TEXT_TURN, "typed turn")
            case cmd.SetMicMuted(muted=muted):
                turns.muted = muted
            case cmd.SetTurnMode(mode=mode):
                self._apply_config(_with_mode(self._config, mode))
            case _Reconfigure(config=config):
                self._apply_config(config)
            case cmd.Shutdown():
                self._request_stop()
            case _:
                log.debug("ignored command %s", type(command).__name__)

    def _apply_config(self, config: SessionConfig) -> None:
        self._config = config
        self._turns.reconfigure(config)
        self._send(self._configure_command())

    def _feed(self, event: Ev | None, reason: str) -> None:
        if event is not None:
            self._dispatch(event, reason)

    # ------------------------------------------------------------------ server events

    def _on_server_event(self, event: m.ServerEvent) -> None:
        match event:
            case m.UserSpeechStarted():
                self._feed(self._turns.server_speech_started(), "server VAD: speech started")
            case m.UserSpeechStopped():
                self._mark("speech_end", self._clock())
                self._feed(self._turns.server_speech_stopped(), "server VAD: speech stopped")
            case m.ResponseCreated(response_id=rid):
                self._on_response_created(rid)
            case m.AudioDelta():
                self._on_audio(event)
            case m.AssistantTranscriptDelta(response_id=rid, item_id=item_id, delta=delta):
                if self._track is not None and self._track.item_id == item_id:
                    self._track.text += delta
                if rid not in self._orphans and self._transcript is not None:
                    self._transcript.assistant_delta(item_id, delta)
            case m.AssistantTranscriptDone(response_id=rid, item_id=item_id, text=text):
                if rid not in self._orphans and self._transcript is not None:
                    self._transcript.assistant_done(item_id, text)
            case m.ResponseDone():
                self._on_response_done(event)
            case m.UserTranscriptDelta(item_id=item_id, delta=delta):
                if self._transcript is not None:
                    self._transcript.user_delta(item_id, delta)
            case m.UserTranscriptDone(item_id=item_id, text=text):
                if self._transcript is not None:
                    self._transcript.user_done(item_id, text)
            case m.ItemAdded(done=True, item_type="message"):
                if self._context is not None:
                    self._context.on_item_added(event.item_id, event.role, event.text)
                    for item_id in self._context.items_to_delete():
                        self._send(m.DeleteItem(item_id))
            case m.ServerError():
                self._on_server_error(event)
            case _:
                log.debug("server event %s", type(event).__name__)

    def _on_response_created(self, rid: str) -> None:
        self._create_sent_at = None
        if self._gate.created(rid):
            log.info("cancelling abandoned response %s", rid)
            self._orphans.add(rid)
            self._stale.add(rid)
            self._playback.mark_stale(rid)
            self._send(m.CancelResponse(rid))
            return
        self._first_audio_marked = False
        self._dispatch(Ev.RESPONSE_CREATED, f"response {rid} created")

    def _on_audio(self, event: m.AudioDelta) -> None:
        if event.response_id in self._stale:
            self.late_deltas_dropped += 1
            return
        track = self._track
        if track is None or track.item_id != event.item_id:
            track = self._track = _AudioTrack(event.response_id, event.item_id, event.content_index)
        track.received_bytes += len(event.pcm)
        if not self._first_audio_marked:
            self._first_audio_marked = True
            self._mark("first_audio", self._clock())
        self._pending_audio = event
        self._dispatch(Ev.AUDIO_RECEIVED, "audio")
        self._pending_audio = None

    def _on_response_done(self, event: m.ResponseDone) -> None:
        rid = event.response_id
        send_deferred = self._gate.done(rid)
        self._stale.discard(rid)
        if rid in self._orphans:
            self._orphans.discard(rid)
        else:
            calls = event.function_calls if self._fsm not in _CUT_STATES else ()
            self._pending_calls = calls
            kind = Ev.RESPONSE_DONE_WITH_TOOLS if calls else Ev.RESPONSE_DONE
            self._dispatch(kind, f"response {rid} {event.status}")
        if send_deferred:
            self._send(m.CreateResponse())

    def _on_server_error(self, event: m.ServerError) -> None:
        self.server_errors[event.code or event.kind] += 1
        fatal = self._fatal_or_none(event)
        if fatal is not None:
            raise _ConnectionEnded(fatal)
        log.warning("server error %s: %s", event.code or event.kind, event.message[:200])
        if event.code == "input_audio_buffer_commit_empty":
            self._emit(
                UserNotice(
                    NoticeLevel.INFO,
                    NoticeCategory.TURN,
                    "I did not catch any speech; please try again.",
                )
            )

    @staticmethod
    def _fatal_or_none(event: m.ServerError) -> Failure | None:
        category = classify_server_error(event.kind, event.code)
        if category is None:
            return None
        return Failure(category, f"{event.code or event.kind}: {event.message}"[:200])

    # ------------------------------------------------------------------ tools

    def _on_tool_done(self, result: ToolResultLike) -> None:
        output = m.AddFunctionOutput(result.call_id, result.output)
        if self._fsm is State.TOOL_RUNNING and not result.stale:
            self._tool_outputs.append(output)
            if self._runner is None or not self._runner.running():
                self._dispatch(Ev.TOOLS_DONE, "tools finished")
        else:
            # Recorded in the conversation, never spoken: no response is created for it.
            self._send(output)

    # ------------------------------------------------------------------ the state machine

    def _dispatch(self, event: Ev, reason: str) -> None:
        before = self._fsm
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
        self._fsm = after
        if public_state(after) is not public_state(before):
            self._emit(SessionStateChanged(public_state(after), reason))
        for action in actions:
            self._execute(action)

    def _execute(self, action: Act) -> None:
        handler = getattr(self, "_act_" + action.value)
        handler()

    def _act_open_connection(self) -> None:
        """The supervisor opens connections; nothing to do here."""

    def _act_schedule_retry(self) -> None:
        """The supervisor schedules retries; nothing to do here."""

    def _act_renew_connection(self) -> None:
        self._renew = True

    def _act_close_connection(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _act_notify_failure(self) -> None:
        if self._failure is not None:
            self._emit(notice_for(self._failure, self._config.provider))

    def _act_reset_turn(self) -> None:
        self._cancel_duck_timer()
        self._turns.reset()
        self._gate.reset()
        self._stale.clear()
        self._orphans.clear()
        self._audio.clear()
        self._track = None
        self._create_sent_at = None
        self._tool_outputs.clear()
        self._pending_calls = ()

    def _act_queue_playback(self) -> None:
        delta = self._pending_audio
        if delta is not None:
            self._playback.enqueue(
                delta.pcm,
                self._config.sample_rate,
                delta.response_id,
                delta.item_id,
                delta.content_index,
            )

    def _act_flush_playback(self) -> None:
        self._cancel_duck_timer()
        self._playback.flush()
        self._mark("bargein", self._clock())
        rid = self._gate.active
        if rid is not None:
            self._stale.add(rid)
            self._playback.mark_stale(rid)

    def _act_duck_playback(self) -> None:
        self._playback.duck(self._config.duck_gain)
        self._cancel_duck_timer()
        if self._loop is not None:
            self._duck_timer = self._loop.call_later(
                self._config.min_interruption_ms / 1000, self._interruption_due
            )

    def _interruption_due(self) -> None:
        self._duck_timer = None
        self._dispatch(Ev.INTERRUPTION_CONFIRMED, "speech outlasted min_interruption_ms")

    def _cancel_duck_timer(self) -> None:
        if self._duck_timer is not None:
            self._duck_timer.cancel()
            self._duck_timer = None

    def _act_resume_playback(self) -> None:
        self._cancel_duck_timer()
        self._playback.resume()

    def _act_cancel_response(self) -> None:
        rid = self._gate.active
        if rid is not None:
            self._stale.add(rid)
            self._send(m.CancelResponse(rid))

    def _act_truncate_assistant(self) -> None:
        track, self._track = self._track, None
        self._heard_note = None
        if track is None:
            return
        received_ms = int(track.received_bytes / (self._config.sample_rate * 2 / 1000))
        played = self._playback.played_ms(track.item_id)
        done = self._gate.active != track.response_id
        end = truncate_at(played, received_ms, done)
        if end is None:
            return
        self._send(m.TruncateItem(track.item_id, track.content_index, end))
        if self._transcript is not None:
            self._transcript.assistant_truncated(track.item_id, end)
        if track.text and received_ms:
            cut = track.text[: int(len(track.text) * end / received_ms)]
            self._heard_note = cut.rsplit(" ", 1)[0] if " " in cut else cut

    def _act_repair_context(self) -> None:
        heard, self._heard_note = self._heard_note, None
        if self._config.repair is RepairPolicy.HEARD_NOTE and heard is not None:
            note = f'The user interrupted you. They heard only: "{heard}". Continue from there.'
            self._send(m.AddMessage("system", note))

    def _act_cancel_tools(self) -> None:
        if self._runner is None:
            return
        self._runner.cancel_interruptible()
        self._runner.mark_stale(self._runner.running())

    def _act_abandon_pending_response(self) -> None:
        self._gate.abandon()

    def _act_clear_input(self) -> None:
        self._audio.clear()
        self._send(m.ClearInput())

    def _act_end_user_turn(self) -> None:
        self._new_turn()
        end = self._turns.turn_end()
        if end.commit:
            self._mark("speech_end", self._clock())
            self._flush_audio_into_out()
            self._send(m.CommitInput())
        if end.create_response:
            self._act_create_response()

    def _act_discard_turn(self) -> None:
        self._audio.clear()
        self._send(m.ClearInput())
        self._emit(
            UserNotice(
                NoticeLevel.INFO,
                NoticeCategory.TURN,
                "That was too short to hear; hold the key while you speak.",
            )
        )

    def _act_send_text(self) -> None:
        self._new_turn()
        self._send(m.AddMessage("user", self._pending_text))

    def _act_create_response(self) -> None:
        if self._gate.request():
            self._send(m.CreateResponse())

    def _act_start_tools(self) -> None:
        calls, self._pending_calls = self._pending_calls, ()
        self._tool_outputs.clear()
        if self._runner is None:
            for call in calls:
                self._tool_outputs.append(
                    m.AddFunctionOutput(call.call_id, '{"error": "tools are not available"}')
                )
            if self._loop is not None:
                self._loop.call_soon(self._dispatch, Ev.TOOLS_DONE, "no tool runner")
            return
        for call in calls:
            self._runner.start(call.call_id, call.name, call.arguments)

    def _act_send_tool_outputs(self) -> None:
        outputs, self._tool_outputs = self._tool_outputs, []
        for output in outputs:
            self._send(output)

    # ------------------------------------------------------------------ helpers

    def _new_turn(self) -> None:
        self._turn_seq += 1
        self._turn_id = f"turn-{self._turn_seq}"

    def _mark(self, name: str, t: float) -> None:
        if self._meter is not None:
            self._meter.mark(self._turn_id, name, t)

    def _emit(self, event: object) -> None:
        try:
            self._observer(event)
        except Exception:
            log.exception("observer failed on %s", type(event).__name__)


# States in which a finished response's tool calls belong to a cut-off answer.
_CUT_STATES = frozenset({State.INTERRUPTING, State.CANCELLING, State.INTERRUPTED_TURN_ENDED})


class _Reconfigure:
    """Internal command carrying new settings."""

    __slots__ = ("config",)
    __match_args__ = ("config",)

    def __init__(self, config: SessionConfig) -> None:
        self.config = config


def _with_mode(config: SessionConfig, mode: str) -> SessionConfig:
    return dataclasses.replace(config, turn_mode=TurnMode(mode))


def _json(payload: dict[str, object]) -> str:
    return json.dumps(payload, separators=(",", ":"))
