"""The session driver: an asyncio loop in the ``session-loop`` thread that supervises connections.

Reconnects with jittered exponential backoff (the loop is ``app.session.supervisor``); failures
classified once (``app.session.errors``); the session renewed in advance of the provider's limit
(OpenAI's 60 minutes, Gemini's ``goAway``). This module holds the public, thread-safe API, the
loop thread and the routing of commands. One connection (connect, handshake, reader and writer) is
``app.session.connection``; what a conversation does with events and commands lives in
``app.session.conversation``. Commands arrive through ``submit`` from any thread; microphone
audio goes to a bounded inbox (oldest dropped, counted) that the writer drains only when no
control frame is waiting. If the loop itself crashes, observers are told FAILED with a notice
offering to reconnect.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.events import AssistantState, ConnectionChanged, ConnectionState, Observer
from app.ports import PlaybackSink
from app.runtime import commands as cmd
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
from app.session.connection import Connection, configure_command, read_memory_block
from app.session.conversation import Conversation
from app.session.outbox import Outbox
from app.session.protocol.base import Codec, codec_for
from app.session.states import Ev, State, public_state
from app.session.supervisor import ConnectionSupervisor

__all__ = [
    "ContextLike",
    "MemoryLike",
    "MeterLike",
    "SessionDriver",
    "ToolResultLike",
    "ToolRunnerLike",
    "ToolsFactory",
    "TranscriptLike",
]

log = logging.getLogger("app.session")


class SessionDriver(ConnectionSupervisor):
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
        self._link: Connection | None = None
        self._reconfiguring: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
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
        except (Exception, asyncio.CancelledError) as exc:
            log.exception("session loop crashed")
            self._publish_crash(exc)
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
            if self._reconfiguring is not None:
                self._reconfiguring.cancel()
                await asyncio.gather(self._reconfiguring, return_exceptions=True)
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
        link = self._link
        if link is not None:
            link.config = config
        if self._codec.configure_in_band:
            # Only the newest settings matter: an older update still reading the facts is dropped.
            if self._reconfiguring is not None:
                self._reconfiguring.cancel()
            self._reconfiguring = asyncio.get_running_loop().create_task(
                self._send_configuration(config), name="session-reconfigure"
            )
        elif link is not None:
            link.renew_due = True  # applied by the next connection's setup, when idle
            self._outbox.wake()

    async def _send_configuration(self, config: SessionConfig) -> None:
        block = await read_memory_block(self._memory)
        self._outbox.send(configure_command(config, self._tool_schemas, block))

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
