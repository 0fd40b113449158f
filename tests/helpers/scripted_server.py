"""A real WebSocket server on 127.0.0.1 that plays an OpenAI Realtime peer from a script.

``ScriptedServer`` runs its own asyncio loop in a thread (the driver under test runs in another),
records every client event and request header, and hands each connection to a handler
coroutine. ``mimic_handler`` is a small but strict OpenAI Realtime imitation (one active
response, ``response_cancel_not_active``, truncates validated against the audio produced,
empty commits rejected); tests can replace it or tweak its knobs.
"""

from __future__ import annotations

import asyncio
import base64
import http
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

Handler = Callable[["Peer"], Awaitable[None]]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        event.wait(0.005)


class Peer:
    """One accepted client connection, as seen by a handler."""

    def __init__(self, server: ScriptedServer, ws: ServerConnection, index: int) -> None:
        self.server = server
        self.ws = ws
        self.index = index
        self.received: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (an ``event_id`` is added when missing)."""
        event.setdefault("event_id", f"event_srv{next(self._ids)}")
        await self.ws.send(json.dumps(event))

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as is (malformed-input tests)."""
        await self.ws.send(frame)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """Receive and record the next client event."""
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        event: dict[str, Any] = json.loads(frame)
        self.received.append(event)
        self.server.received.append(event)
        return event

    async def recv_until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """Receive client events until one of type ``kind`` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.recv(max(0.01, deadline - time.monotonic()))
            if event["type"] == kind:
                return event

    async def drain(self) -> None:
        """Record client events until the client closes the connection."""
        while True:
            try:
                await self.recv(timeout=3600)
            except websockets.ConnectionClosed:
                return

    async def session_created(self) -> None:
        """Send ``session.created`` with a GA session object."""
        await self.send(
            {
                "type": "session.created",
                "session": {
                    "type": "realtime",
                    "id": f"sess_{self.index}",
                    "object": "realtime.session",
                    "model": "gpt-realtime",
                    "output_modalities": ["audio"],
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": 24000},
                            "turn_detection": {
                                "type": "server_vad",
                                "threshold": 0.5,
                                "prefix_padding_ms": 300,
                                "silence_duration_ms": 200,
                            },
                        },
                        "output": {"format": {"type": "audio/pcm", "rate": 24000}},
                    },
                },
            }
        )

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code``."""
        await self.ws.close(code, reason)


@dataclass
class MimicKnobs:
    """How ``mimic_handler`` answers."""

    chunks: int = 10
    chunk_ms: int = 100
    pace_s: float = 0.0
    transcript: str = "The quick brown fox jumps over the lazy dog again and again."
    answer_creates: bool = True
    function_call: tuple[str, str] | None = None  # (name, arguments) for the first response
    close_after_chunks: tuple[int, int] | None = None  # (chunks, close code)
    never_create: bool = False


@dataclass
class _MimicState:
    active: str | None = None
    produced_ms: dict[str, int] = field(default_factory=dict)
    buffer_bytes: int = 0
    responses: int = 0
    cancel: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None


async def mimic_handler(peer: Peer) -> None:
    """A small OpenAI Realtime imitation driven by ``peer.server.knobs``."""
    knobs = peer.server.knobs
    state = _MimicState()
    await peer.session_created()
    while True:
        try:
            event = await peer.recv(timeout=3600)
        except (websockets.ConnectionClosed, TimeoutError):
            return
        kind = event["type"]
        if kind == "session.update":
            await peer.send({"type": "session.updated", "session": event["session"]})
        elif kind == "input_audio_buffer.append":
            state.buffer_bytes += len(base64.b64decode(event["audio"]))
        elif kind == "input_audio_buffer.clear":
            state.buffer_bytes = 0
            await peer.send({"type": "input_audio_buffer.cleared"})
        elif kind == "input_audio_buffer.commit":
            if state.buffer_bytes < 100 * 48:
                await _error(peer, event, "input_audio_buffer_commit_empty", "buffer too small")
            else:
                await peer.send(
                    {
                        "type": "input_audio_buffer.committed",
                        "item_id": "item_u",
                        "previous_item_id": None,
                    }
                )
            state.buffer_bytes = 0
        elif kind == "response.create":
            if knobs.never_create:
                continue
            if state.active is not None:
                await _error(
                    peer, event, "conversation_already_has_active_response", "active response"
                )
                continue
            state.responses += 1
            rid = f"resp_{peer.index}_{state.responses}"
            state.active = rid
            state.cancel = asyncio.Event()
            state.task = asyncio.create_task(_respond(peer, state, rid, knobs))
        elif kind == "response.cancel":
            if state.active is None or (event.get("response_id") not in (None, state.active)):
                await _error(peer, event, "response_cancel_not_active", "no active response")
            else:
                assert state.cancel is not None
                state.cancel.set()
        elif kind == "conversation.item.truncate":
            produced = state.produced_ms.get(event["item_id"], 0)
            if produced == 0:
                await _error(
                    peer,
                    event,
                    "unsupported_content_type",
                    "Only model output audio messages can be truncated",
                )
            elif event["audio_end_ms"] > produced:
                await _error(
                    peer,
                    event,
                    None,
                    f"Audio content of {produced}ms is already shorter than "
                    f"{event['audio_end_ms']}ms",
                )
            else:
                await peer.send(
                    {
                        "type": "conversation.item.truncated",
                        "item_id": event["item_id"],
                        "content_index": event["content_index"],
                        "audio_end_ms": event["audio_end_ms"],
                    }
                )
        elif kind == "conversation.item.create":
            item = dict(event["item"])
            item.setdefault("id", f"item_c{len(peer.received)}")
            item["object"] = "realtime.item"
            item["status"] = "completed"
            await peer.send(
                {"type": "conversation.item.added", "item": item, "previous_item_id": None}
            )
            await peer.send(
                {"type": "conversation.item.done", "item": item, "previous_item_id": None}
            )
        elif kind == "conversation.item.delete":
            await peer.send({"type": "conversation.item.deleted", "item_id": event["item_id"]})


async def _error(peer: Peer, event: dict[str, Any], code: str | None, message: str) -> None:
    await peer.send(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": code,
                "message": message,
                "param": None,
                "event_id": event.get("event_id"),
            },
        }
    )


async def _respond(peer: Peer, state: _MimicState, rid: str, knobs: MimicKnobs) -> None:
    assert state.cancel is not None
    item_id = f"item_{rid}"
    base = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
    await peer.send(
        {
            "type": "response.created",
            "response": {
                "id": rid,
                "object": "realtime.response",
                "status": "in_progress",
                "output": [],
            },
        }
    )
    status, reason = "completed", None
    output: list[dict[str, Any]] = []
    if knobs.function_call is not None and state.responses == 1:
        name, arguments = knobs.function_call
        output.append(
            {
                "type": "function_call",
                "id": "item_fc",
                "call_id": "call_1",
                "name": name,
                "arguments": arguments,
                "status": "completed",
                "object": "realtime.item",
            }
        )
    else:
        words = knobs.transcript.split(" ")
        per = max(1, len(words) // knobs.chunks)
        pcm = b"\x01\x00" * (24 * knobs.chunk_ms)
        for index in range(knobs.chunks):
            if state.cancel.is_set():
                status, reason = "cancelled", "client_cancelled"
                break
            await peer.send(
                {
                    "type": "response.output_audio.delta",
                    **base,
                    "delta": base64.b64encode(pcm).decode(),
                }
            )
            state.produced_ms[item_id] = state.produced_ms.get(item_id, 0) + knobs.chunk_ms
            text = " ".join(words[index * per : (index + 1) * per])
            if text:
                await peer.send(
                    {"type": "response.output_audio_transcript.delta", **base, "delta": text + " "}
                )
            if knobs.close_after_chunks and index + 1 == knobs.close_after_chunks[0]:
                await peer.close(knobs.close_after_chunks[1], "session limit")
                return
            if knobs.pace_s:
                try:
                    await asyncio.wait_for(state.cancel.wait(), knobs.pace_s)
                except TimeoutError:
                    pass
        await peer.send({"type": "response.output_audio.done", **base})
        await peer.send(
            {
                "type": "response.output_audio_transcript.done",
                **base,
                "transcript": knobs.transcript,
            }
        )
    state.active = None
    await peer.send(
        {
            "type": "response.done",
            "response": {
                "id": rid,
                "object": "realtime.response",
                "status": status,
                "status_details": {"type": status, "reason": reason} if reason else None,
                "output": output,
            },
        }
    )


class ScriptedServer:
    """A WebSocket server on 127.0.0.1 (port 0) in its own thread, driven by a handler.

    Args:
        handler: coroutine run per connection (default: ``mimic_handler``).
        reject: per connection index, an HTTP status to refuse the handshake with.
        hang_handshake: accept TCP but never answer the upgrade (a server that never answers).
    """

    def __init__(
        self,
        handler: Handler | None = None,
        reject: Callable[[int], int | None] | None = None,
        hang_handshake: bool = False,
    ) -> None:
        self.handler: Handler = handler or mimic_handler
        self.knobs = MimicKnobs()
        self.reject = reject
        self.hang_handshake = hang_handshake
        self.received: list[dict[str, Any]] = []
        self.headers: list[Headers] = []
        self.peers: list[Peer] = []
        self.attempts = 0
        self.attempt_times: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="scripted-server")
        self._hang_tasks: list[asyncio.Task[None]] = []
        self.port = 0

    @property
    def url(self) -> str:
        """The ``ws://`` address with the realtime path."""
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-realtime"

    def types(self) -> list[str]:
        """Types of every client event received so far, in order."""
        return [event["type"] for event in list(self.received)]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Client events of type ``kind`` received so far."""
        return [event for event in list(self.received) if event["type"] == kind]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def run(self, coro: Awaitable[Any], timeout: float = 5.0) -> Any:
        """Run a coroutine on the server loop (e.g. ``peer.send``) and return its result."""

        async def wrapper() -> Any:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    async def _start(self) -> None:
        if self.hang_handshake:
            tcp = await asyncio.start_server(self._hang, "127.0.0.1", 0)
            self._tcp = tcp
            self.port = tcp.sockets[0].getsockname()[1]
            return
        self._server = await websockets.serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request, max_size=None
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def _hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        self.attempt_times.append(time.monotonic())
        try:
            await reader.read()
        finally:
            writer.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 5)
        if self.hang_handshake:
            self._tcp.close()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        index = self.attempts
        self.attempts += 1
        self.attempt_times.append(time.monotonic())
        self.headers.append(request.headers)
        status = self.reject(index) if self.reject is not None else None
        if status is None:
            return None
        body = json.dumps({"error": {"message": "refused", "code": str(status)}})
        response = connection.respond(http.HTTPStatus(status), body)
        if status == 429:
            response.headers["Retry-After"] = "0"
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        peer = Peer(self, ws, len(self.peers))
        self.peers.append(peer)
        try:
            await self.handler(peer)
        except websockets.ConnectionClosed:
            pass
