"""The session driver: an asyncio loop in the ``session-loop`` thread that owns the connection.

Per connection one reader and one writer task; reconnects with jittered exponential backoff;
failures classified once (``app.session.errors``); the session renewed in advance of the
provider's limit (OpenAI's 60 minutes, Gemini's ``goAway``), with the kept context replayed as
text unless the provider resumes the conversation itself (Gemini session resumption). The wire
protocol is the provider codec's (``app.session.protocol.base.codec_for``). What a conversation does
with events and commands lives in ``app.session.conversation``; this module only moves frames.
Commands arrive through ``submit`` from any thread; microphone audio goes to a bounded inbox
(oldest dropped, counted) that the writer drains only when no control frame is waiting.
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
from collections.abc import Callable
from typing import Any

import websockets
import websockets.exceptions as wsx
from websockets.asyncio.client import ClientConnection

from app.events import AssistantState, ConnectionChanged, ConnectionState, Observer
from app.ports import PlaybackSink
from app.runtime import commands as cmd
from app.session import messages as m
from app.session.collaborators import (
    ContextLike,
    MemoryLike,
    MeterLike,
    ToolResultLike,
    ToolRunnerLike,
    ToolsFactory,
    TranscriptLike,
)
from app.session.config import SessionConfig, TurnMode
from app.session.conversation import ConnectionEnded, Conversation, fatal_or_none
from app.session.errors import ErrorCategory, Failure, classify_exception
from app.session.outbox import Outbox
from app.session.protocol.base import Codec, codec_for
from app.session.statemachine import Ev, State, public_state
from app.session.uplink import UplinkBatch

__all__ = [
    "ContextLike",
    "MemoryLike",
    "MeterLike",
    "SessionDriver",
    "ToolResultLike",
    "ToolRunnerLike",
    "ToolsFactory",
    "TranscriptLike",
    "backoff_delay",
]

log = logging.getLogger("app.session")

# A connection the server is ending is closed this long before its announced end.
_ABORT_MARGIN_S = 3.0


def backoff_delay(attempt: int, config: SessionConfig, retry_after: float | None = None) -> float:
    """Return the jittered exponential delay before reconnect attempt ``attempt`` (1-based)."""
    base = config.backoff_initial_s * config.backoff_factor ** max(0, attempt - 1)
    delay = min(config.backoff_max_s, base) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class SessionDriver:
    """Runs one realtime conversation against an OpenAI Realtime or Gemini Live server.

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
        self._observer = observer
        self._auth = auth
        self._tools_factory = tools
        self._context = context
        self._memory = memory
        self._clock = clock
        self._codec: Codec = codec_for(config)
        self._outbox = Outbox(self._codec, clock, self._response_requested)
        self.conversation = Conversation(
            config,
            playback,
            self._emit,
            self._outbox.send,
            self._outbox.send_audio,
            self._outbox.wake,
            transcript,
            context,
            meter,
            clock,
        )
        self.conversation.truncates = self._codec.truncates
        self._renew_due = False
        self._abort_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._ws: ClientConnection | None = None
        self._tool_schemas: tuple[dict[str, object], ...] = ()
        self._connected_at = 0.0
        self._connecting: asyncio.Task[Any] | None = None
        self.sent = self._outbox.sent
        self.sent_log = self._outbox.sent_log
        """Recent control events as queued (monotonic time, payload without audio)."""

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> AssistantState:
        """What the conversation is doing, as the GUI shows it."""
        return public_state(self.conversation.fsm)

    @property
    def fsm_state(self) -> State:
        """The internal state-machine state (for tests and logs)."""
        return self.conversation.fsm

    @property
    def codec(self) -> Codec:
        """The codec (its counters of malformed and unknown events)."""
        return self._codec

    @property
    def uplink_dropped(self) -> int:
        """Microphone chunks dropped because the uplink inbox was full."""
        return self.conversation.uplink.dropped

    @property
    def late_deltas_dropped(self) -> int:
        """Audio deltas of interrupted responses dropped on arrival."""
        return self.conversation.late_deltas_dropped

    @property
    def server_errors(self) -> collections.Counter[str]:
        """In-band server errors by code."""
        return self.conversation.server_errors

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
        self._outbox.wake_event = self._wake
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
        runner: ToolRunnerLike | None = None
        if self._tools_factory is not None:
            runner, schemas = self._tools_factory(self._on_tool_done)
            self.conversation.tools.runner = runner
            self._tool_schemas = tuple(dict(schema) for schema in schemas)
        try:
            await self._supervise()
        finally:
            aclose = getattr(runner, "aclose", None)
            if aclose is not None:
                await aclose()

    def _on_tool_done(self, result: ToolResultLike) -> None:
        self.conversation.on_tool_done(result)

    def _request_stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.conversation.dispatch(Ev.STOP, "stop requested")
        self._connection(ConnectionState.DISCONNECTED)
        assert self._stop_event is not None and self._wake is not None
        self._stop_event.set()
        self._wake.set()
        if self._connecting is not None:
            self._connecting.cancel()

    async def _sleep_or_stop(self, delay: float) -> None:
        assert self._stop_event is not None
        try:
            await asyncio.wait_for(self._stop_event.wait(), timeout=delay)
        except TimeoutError:
            pass

    async def _supervise(self) -> None:
        assert self._stop_event is not None
        conv = self.conversation
        conv.dispatch(Ev.START, "start")
        failures = 0
        while not self._stopping:
            self._connection(
                ConnectionState.RECONNECTING if failures else ConnectionState.CONNECTING
            )
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
                conv.failure = failure
                conv.dispatch(Ev.PERMANENT_FAILURE, failure.detail)
                self._connection(ConnectionState.FAILED, failure.detail)
                await self._stop_event.wait()
                break
            conv.dispatch(Ev.CONNECTION_LOST, failure.detail)
            delay = backoff_delay(failures, self._config, failure.retry_after_s)
            log.info("reconnecting in %.2f s (attempt %d)", delay, failures)
            await self._sleep_or_stop(delay)
            if not self._stopping:
                conv.dispatch(Ev.RETRY_DUE, f"attempt {failures}")

    async def _connect_once(self) -> Failure | None:
        # A stop while connecting cancels the attempt instead of waiting for its timeout.
        task = asyncio.current_task()
        self._connecting = task
        try:
            return await self._connect_and_run()
        except asyncio.CancelledError:
            if not self._stopping or task is None:
                raise
            task.uncancel()
            return None
        finally:
            self._connecting = None

    async def _connect_and_run(self) -> Failure | None:
        config = self._config
        try:
            secret = await self._read_secret()
        except Exception as exc:
            log.warning("could not read the API key: %s", type(exc).__name__)
            return Failure(ErrorCategory.AUTHENTICATION, "could not read the API key")
        try:
            async with asyncio.timeout(config.connect_timeout_s):
                ws = await websockets.connect(
                    self._codec.url(config),
                    additional_headers=self._codec.headers(config, secret),
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
            self._outbox.connected = False
            self._outbox.frames.clear()
            try:
                await asyncio.wait_for(asyncio.shield(ws.close()), config.close_timeout_s + 1.0)
            except Exception:
                log.debug("close handshake did not finish")

    async def _read_secret(self) -> str | None:
        """Return ``auth()`` computed on a daemon thread, so the loop stays free meanwhile.

        A keyring read goes over D-Bus and may wait for an unlock prompt; ``stop`` must still
        cancel the connect attempt at once.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()

        def deliver(value: str | None, error: BaseException | None) -> None:
            if future.done():
                return  # the connect attempt was cancelled meanwhile
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

        def read() -> None:
            value: str | None = None
            error: BaseException | None = None
            try:
                value = self._auth()
            except Exception as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(deliver, value, error)
            except RuntimeError:
                pass  # the loop closed while the keyring was answering

        threading.Thread(target=read, name="session-secret", daemon=True).start()
        return await future

    async def _run_connection(self, ws: ClientConnection) -> Failure | None:
        codec = self._codec
        configure = self._configure_command()
        resumed = codec.resumes
        seed = [] if resumed else self._kept_context()
        try:
            for payload in codec.handshake(configure, seed):
                await ws.send(json.dumps(payload, separators=(",", ":")))
            async with asyncio.timeout(self._config.connect_timeout_s):
                started = False
                while not started:
                    for event in codec.decode_all(await ws.recv()):
                        if isinstance(event, m.SessionStarted):
                            started = True
                        elif isinstance(event, m.ServerError):
                            return fatal_or_none(event) or Failure(
                                ErrorCategory.SERVER, event.message[:200]
                            )
        except Exception as exc:
            return self._classify(exc)
        self._ws = ws
        self._connecting = None
        self._outbox.frames.clear()
        self._outbox.connected = True
        self._connected_at = self._clock()
        self._renew_due = False
        self._abort_at = None
        conv = self.conversation
        conv.renew = False
        conv.sent_audio.reset(self._config.input_rate())
        if not resumed and self._context is not None:
            self._context.reset()  # the new server conversation holds only the seed
        for payload in codec.after_start(configure, seed):
            self._outbox.send_payload(payload)
        conv.dispatch(Ev.CONNECTED, "session created")
        self._connection(ConnectionState.CONNECTED)
        reader = asyncio.create_task(self._reader(ws), name="session-reader")
        writer = asyncio.create_task(self._writer(ws), name="session-writer")
        done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        errors = [task.exception() for task in done]  # retrieve every one
        for error in errors:
            if isinstance(error, ConnectionEnded):
                return error.failure
        for error in errors:
            if error is not None:
                return classify_exception(error)
        return None

    def _kept_context(self) -> list[dict[str, Any]]:
        """The kept turns as GA ``conversation.item.create`` payloads (the context is unchanged)."""
        if self._context is None:
            return []
        items = self._context.replay_items()
        return [p for p in items if p.get("type") == "conversation.item.create"]

    def _classify(self, exc: BaseException) -> Failure:
        if isinstance(exc, wsx.ConnectionClosed) and exc.rcvd is not None:
            return self._codec.close_failure(exc.rcvd.code, exc.rcvd.reason)
        return classify_exception(exc)

    def _configure_command(self) -> m.ConfigureSession:
        instructions = self._config.instructions
        if self._memory is not None:
            block = self._memory.instructions_block()
            if block:
                instructions = f"{instructions}\n\n{block}"
        return m.ConfigureSession(self._config, self._tool_schemas, instructions)

    # ------------------------------------------------------------------ reader / writer

    async def _reader(self, ws: ClientConnection) -> None:
        async for frame in ws:
            for event in self._codec.decode_all(frame):
                if isinstance(event, m.SessionEnding):
                    self._on_session_ending(event)
                else:
                    self.conversation.on_server_event(event)
        raise ConnectionEnded(self._codec.close_failure(ws.close_code, ws.close_reason or ""))

    def _on_session_ending(self, event: m.SessionEnding) -> None:
        """The server closes this connection soon: renew when idle, or just before the end."""
        left = event.time_left_s if event.time_left_s is not None else 30.0
        log.info("the server ends this connection in %.1f s; renewing", left)
        self._renew_due = True
        self._abort_at = self._clock() + max(0.0, left - _ABORT_MARGIN_S)
        self._outbox.wake()

    async def _writer(self, ws: ClientConnection) -> None:
        assert self._wake is not None
        conv = self.conversation
        while not self._stopping:
            if self._outbox.frames:
                frame, batch = self._outbox.frames.popleft()
                await ws.send(frame)
                if batch is not None:
                    self._audio_sent(batch)
                continue
            if conv.uplink:
                batch = conv.uplink.take(conv.batch_limit())
                if batch is not None:
                    for payload in self._codec.payloads(m.AppendAudio(batch.pcm)):
                        await ws.send(json.dumps(payload, separators=(",", ":")))
                        self.sent[self._codec.event_type(payload)] += 1
                    self._audio_sent(batch)
                continue
            self._check_deadlines()
            if conv.renew:
                conv.renew = False
                raise ConnectionEnded(None)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=0.25)
            except TimeoutError:
                pass

    def _audio_sent(self, batch: UplinkBatch) -> None:
        now = self._clock()
        conv = self.conversation
        conv.sent_audio.record(batch, now)
        for chunk in batch.chunks:
            if chunk.mark_turn is not None:
                conv.marks.mark("uplink_sent", now, chunk.mark_turn)

    def _check_deadlines(self) -> None:
        now = self._clock()
        conv = self.conversation
        sent = conv.create_sent_at
        if sent is not None and now - sent > self._config.response_timeout_s:
            conv.create_sent_at = None
            raise ConnectionEnded(
                Failure(ErrorCategory.SERVER, "the server did not answer response.create")
            )
        # A provider without a cancel finishes the cut-off response at its own pace.
        done_limit = self._config.response_timeout_s * (1 if self._codec.cancels else 8)
        if conv.done_due and now - min(conv.done_due.values()) > done_limit:
            # The server still holds the cut-off response: only a new connection frees the turn.
            conv.done_due.clear()
            raise ConnectionEnded(
                Failure(ErrorCategory.SERVER, "the server did not finish a cancelled response")
            )
        if self._connected_at and now - self._connected_at > self._config.renew_after_s:
            if conv.fsm is State.LISTENING:
                conv.dispatch(Ev.RENEW, "session age limit ahead")
        if self._renew_due and conv.fsm is State.LISTENING:
            self._renew_due = False
            conv.dispatch(Ev.RENEW, "new connection due (settings or server going away)")
        elif self._abort_at is not None and now >= self._abort_at:
            self._abort_at = None
            raise ConnectionEnded(
                Failure(ErrorCategory.CONNECTIVITY, "the server is ending this connection")
            )

    def _response_requested(self) -> None:
        self.conversation.create_sent_at = self._clock()

    # ------------------------------------------------------------------ inputs

    def _accept(self, command: object) -> None:
        try:
            match command:
                case cmd.SetTurnMode(mode=mode):
                    self._apply_config(dataclasses.replace(self._config, turn_mode=TurnMode(mode)))
                case _Reconfigure(config=config):
                    self._apply_config(config)
                case cmd.Shutdown():
                    self._request_stop()
                case _:
                    self.conversation.on_input(command)
        except Exception:
            log.exception("failed to handle %s", type(command).__name__)

    def _apply_config(self, config: SessionConfig) -> None:
        self._config = config
        conv = self.conversation
        conv.config = config
        conv.turns.reconfigure(config)
        conv.uplink.capacity = max(1, config.uplink_queue_chunks)
        if self._codec.configure_in_band:
            self._outbox.send(self._configure_command())
        else:
            self._renew_due = True  # applied by the next connection's setup, when idle
            self._outbox.wake()

    def _emit(self, event: object) -> None:
        try:
            self._observer(event)
        except Exception:
            log.exception("observer failed on %s", type(event).__name__)

    def _connection(self, state: ConnectionState, detail: str = "") -> None:
        self._emit(ConnectionChanged(self._config.provider, self._config.model, state, detail))


class _Reconfigure:
    """Internal command carrying new settings."""

    __slots__ = ("config",)
    __match_args__ = ("config",)

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
