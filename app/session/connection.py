"""One connection of the session driver: connect, handshake, then a reader and a writer task.

``Connection.run`` reads the API key and the pinned facts off the loop, opens the WebSocket,
sends the codec's handshake (configuration, then the kept context as text unless the provider
resumes the conversation itself), waits for the session to start, and moves frames until the
socket ends, a deadline passes or a renewal is due. It returns the classified failure (``None``:
renewal or stop); the supervisor in ``app.session.driver`` decides whether to retry.

Thread: the session loop thread only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import websockets
import websockets.exceptions as wsx
from websockets.asyncio.client import ClientConnection

from app.session import messages as m
from app.session.collaborators import ContextLike, MemoryLike
from app.session.config import SessionConfig
from app.session.conversation import Conversation
from app.session.errors import ErrorCategory, Failure, classify_exception
from app.session.offloop import run_off_loop
from app.session.outbox import Outbox
from app.session.protocol.base import Codec
from app.session.server_events import ConnectionEnded, fatal_or_none
from app.session.states import Ev, State
from app.session.uplink import UplinkBatch

log = logging.getLogger("app.session")

# A connection the server is ending is closed this long before its announced end.
_ABORT_MARGIN_S = 3.0


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """What a connection needs from the driver that does not change between connections.

    Attributes:
        codec: the provider's wire protocol.
        outbox: client frames waiting for the writer.
        conversation: receives server events; its state machine gates renewals.
        auth: returns the secret for the auth header (blocking; run off the loop).
        memory: pinned facts for the instructions (blocking; run off the loop).
        context: the kept turns replayed on a new server conversation.
        tool_schemas: the tools offered to the model.
        wake: wakes the writer.
        stopping: whether the driver is stopping.
        clock: the monotonic clock.
    """

    codec: Codec
    outbox: Outbox
    conversation: Conversation
    auth: Callable[[], str | None]
    memory: MemoryLike | None
    context: ContextLike | None
    tool_schemas: Callable[[], Sequence[dict[str, object]]]
    wake: asyncio.Event
    stopping: Callable[[], bool]
    clock: Callable[[], float]


def configure_command(
    config: SessionConfig, schemas: Sequence[dict[str, object]], memory_block: str
) -> m.ConfigureSession:
    """The ``session.update`` command: settings, tools, and the pinned facts in the instructions."""
    instructions = config.instructions
    if memory_block:
        instructions = f"{instructions}\n\n{memory_block}"
    return m.ConfigureSession(config, tuple(schemas), instructions)


async def read_memory_block(memory: MemoryLike | None) -> str:
    """The pinned-facts block, read off the loop ("" without a memory or when it fails)."""
    if memory is None:
        return ""
    try:
        return await run_off_loop(memory.instructions_block, "session-memory")
    except Exception:
        log.exception("could not read the pinned facts; configuring without them")
        return ""


class Connection:
    """One connection attempt and, once the session started, its reader and writer.

    Args:
        config: the settings in force (the driver replaces it when they change).
        endpoint: the driver's parts this connection uses.
        on_started: called once the server confirmed the session and the conversation knows.
    """

    def __init__(
        self, config: SessionConfig, endpoint: Endpoint, on_started: Callable[[], None]
    ) -> None:
        self.config = config
        self._end = endpoint
        self._on_started = on_started
        self.connected_at = 0.0
        self.renew_due = False
        """A new connection is due (settings or server going away): renew when idle."""
        self._abort_at: float | None = None

    async def run(self) -> Failure | None:
        """Connect and serve until the connection ends; the failure, or None to renew/stop."""
        config = self.config
        try:
            secret = await run_off_loop(self._end.auth, "session-secret")
        except Exception as exc:
            log.warning("could not read the API key: %s", type(exc).__name__)
            return Failure(ErrorCategory.AUTHENTICATION, "could not read the API key")
        memory_block = await read_memory_block(self._end.memory)
        codec = self._end.codec
        try:
            async with asyncio.timeout(config.connect_timeout_s):
                ws = await websockets.connect(
                    codec.url(config),
                    additional_headers=codec.headers(config, secret),
                    max_size=2 * config.max_frame_bytes,
                    ping_interval=config.ping_interval_s,
                    ping_timeout=config.ping_timeout_s,
                    close_timeout=config.close_timeout_s,
                    open_timeout=None,
                    user_agent_header="VoxDesk",
                )
        except Exception as exc:
            return classify_exception(exc)
        outbox = self._end.outbox
        try:
            return await self._serve(ws, memory_block)
        finally:
            outbox.connected = False
            outbox.frames.clear()
            self._end.conversation.tools.connection_ended()
            try:
                await asyncio.wait_for(asyncio.shield(ws.close()), config.close_timeout_s + 1.0)
            except Exception:
                log.debug("close handshake did not finish")

    async def _serve(self, ws: ClientConnection, memory_block: str) -> Failure | None:
        codec, outbox, conv = self._end.codec, self._end.outbox, self._end.conversation
        configure = configure_command(self.config, self._end.tool_schemas(), memory_block)
        resumed = codec.resumes
        seed = [] if resumed else self._kept_context()
        try:
            for payload in codec.handshake(configure, seed):
                await ws.send(json.dumps(payload, separators=(",", ":")))
            async with asyncio.timeout(self.config.connect_timeout_s):
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
        outbox.frames.clear()
        outbox.connected = True
        self.connected_at = self._end.clock()
        conv.renew = False
        conv.sent_audio.reset(self.config.input_rate())
        if not resumed and self._end.context is not None:
            self._end.context.reset()  # the new server conversation holds only the seed
        for payload in codec.after_start(configure, seed):
            outbox.send_payload(payload)
        conv.dispatch(Ev.CONNECTED, "session created")
        self._on_started()
        return await self._pump(ws)

    async def _pump(self, ws: ClientConnection) -> Failure | None:
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
        if self._end.context is None:
            return []
        items = self._end.context.replay_items()
        return [p for p in items if p.get("type") == "conversation.item.create"]

    def _classify(self, exc: BaseException) -> Failure:
        if isinstance(exc, wsx.ConnectionClosed) and exc.rcvd is not None:
            return self._end.codec.close_failure(exc.rcvd.code, exc.rcvd.reason)
        return classify_exception(exc)

    # ------------------------------------------------------------------ reader / writer

    async def _reader(self, ws: ClientConnection) -> None:
        codec, conv = self._end.codec, self._end.conversation
        async for frame in ws:
            for event in codec.decode_all(frame):
                if isinstance(event, m.SessionEnding):
                    self._on_session_ending(event)
                else:
                    conv.on_server_event(event)
        raise ConnectionEnded(codec.close_failure(ws.close_code, ws.close_reason or ""))

    def _on_session_ending(self, event: m.SessionEnding) -> None:
        """The server closes this connection soon: renew when idle, or just before the end."""
        left = event.time_left_s if event.time_left_s is not None else 30.0
        log.info("the server ends this connection in %.1f s; renewing", left)
        self.renew_due = True
        self._abort_at = self._end.clock() + max(0.0, left - _ABORT_MARGIN_S)
        self._end.outbox.wake()

    async def _writer(self, ws: ClientConnection) -> None:
        end = self._end
        conv, outbox, wake = end.conversation, end.outbox, end.wake
        while not end.stopping():
            if outbox.frames:
                frame, batch = outbox.frames.popleft()
                await ws.send(frame)
                if batch is not None:
                    self._audio_sent(batch)
                continue
            if conv.uplink:
                batch = conv.uplink.take(conv.batch_limit())
                if batch is not None:
                    for payload in end.codec.payloads(m.AppendAudio(batch.pcm)):
                        await ws.send(json.dumps(payload, separators=(",", ":")))
                        outbox.sent[end.codec.event_type(payload)] += 1
                    self._audio_sent(batch)
                continue
            self._check_deadlines()
            if conv.renew:
                conv.renew = False
                raise ConnectionEnded(None)
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), timeout=0.25)
            except TimeoutError:
                pass

    def _audio_sent(self, batch: UplinkBatch) -> None:
        now = self._end.clock()
        conv = self._end.conversation
        conv.sent_audio.record(batch, now)
        for chunk in batch.chunks:
            if chunk.mark_turn is not None:
                conv.marks.mark("uplink_sent", now, chunk.mark_turn)

    def _check_deadlines(self) -> None:
        now = self._end.clock()
        conv = self._end.conversation
        config = self.config
        sent = conv.create_sent_at
        if sent is not None and now - sent > config.response_timeout_s:
            conv.create_sent_at = None
            raise ConnectionEnded(
                Failure(ErrorCategory.SERVER, "the server did not answer response.create")
            )
        # A provider without a cancel finishes the cut-off response at its own pace.
        done_limit = config.response_timeout_s * (1 if self._end.codec.cancels else 8)
        if conv.done_due and now - min(conv.done_due.values()) > done_limit:
            # The server still holds the cut-off response: only a new connection frees the turn.
            conv.done_due.clear()
            raise ConnectionEnded(
                Failure(ErrorCategory.SERVER, "the server did not finish a cancelled response")
            )
        if self.connected_at and now - self.connected_at > config.renew_after_s:
            if conv.fsm is State.LISTENING:
                conv.dispatch(Ev.RENEW, "session age limit ahead")
        if self.renew_due and conv.fsm is State.LISTENING:
            self.renew_due = False
            conv.dispatch(Ev.RENEW, "new connection due (settings or server going away)")
        elif self._abort_at is not None and now >= self._abort_at:
            self._abort_at = None
            raise ConnectionEnded(
                Failure(ErrorCategory.CONNECTIVITY, "the server is ending this connection")
            )
