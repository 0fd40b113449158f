"""A scripted OpenAI-Realtime server on 127.0.0.1 for the end-to-end bench.

It answers every ``response.create`` with a known probe signal (``e2e_detect.probe_signal``, a
different seed per response, so any stretch heard on the speaker maps back to one position of
one answer), streamed in PCM16 24 kHz deltas on a controllable schedule: as fast as possible
(what providers do), at a given speed, and with seeded ±jitter on every send time. On
``barge_in()`` it behaves like a server VAD with ``interrupt_response``: it sends
``input_audio_buffer.speech_started``, stops the answer and sends ``response.done`` with
``status: cancelled`` / ``reason: turn_detected``. It records when it sent what (monotonic
clock, same as the rig's ears) and every client event, e.g. the truncate's ``audio_end_ms``.

Runs its own asyncio loop on a ``scripted-realtime`` thread; every public method is thread-safe.
This module holds the server's lifecycle, its controls and its connection handling; what an
answer streams, and when, is ``app.bench.e2e_stream``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.bench.e2e_detect import FloatArray
from app.bench.e2e_stream import Pacing, ResponseLog, reference_signal, stream_response

log = logging.getLogger("app.bench")


class ScriptedRealtimeServer:
    """The scripted server; ``start()`` it, point the app at ``url`` with ``token``.

    Args:
        pacing: initial send schedule (change it between turns with ``set_pacing``).
        clock: monotonic clock shared with the rig's recorders.
    """

    def __init__(self, pacing: Pacing | None = None, clock: Callable[[], float] = time.monotonic):
        self.token = secrets.token_urlsafe(16)
        self._pacing = pacing or Pacing()
        self._clock = clock
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._ws: ServerConnection | None = None
        self._active: ResponseLog | None = None
        self._ids = itertools.count(1)
        self.responses: list[ResponseLog] = []
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.appended_bytes = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.answer_audio: FloatArray | None = None
        """When set (24 kHz float), every answer streams this instead of a probe signal."""

    def __repr__(self) -> str:
        return f"ScriptedRealtimeServer(url={self.url!r}, token=<hidden>)"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/v1/realtime`` (empty before ``start``)."""
        if self._server is None:
            return ""
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/realtime"

    def start(self, timeout: float = 10.0) -> ScriptedRealtimeServer:
        """Start listening on a free loopback port; returns once it listens."""
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._stopped = asyncio.Event()

            async def run() -> None:
                self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
                ready.set()
                assert self._stopped is not None
                await self._stopped.wait()
                self._server.close()
                await self._server.wait_closed()

            try:
                loop.run_until_complete(run())
            finally:
                ready.set()
                loop.close()

        self._thread = threading.Thread(target=main, name="scripted-realtime", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self._server is None:
            raise RuntimeError("the scripted realtime server did not start")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and the listener; join the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> ScriptedRealtimeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- controls (any thread) --------------------------------------------------------------

    def set_pacing(self, pacing: Pacing) -> None:
        """Use ``pacing`` for the next responses."""
        with self._lock:
            self._pacing = pacing

    def connected(self) -> bool:
        """True while a client is connected."""
        return self._ws is not None

    def active(self) -> ResponseLog | None:
        """The response being streamed, if any."""
        return self._active

    def barge_in(self, timeout: float = 5.0) -> float:
        """Act as a server VAD hearing speech: ``speech_started``, then cancel the answer.

        Returns:
            Monotonic time at which ``speech_started`` was handed to the socket.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("the scripted server is not running")
        fut = asyncio.run_coroutine_threadsafe(self._barge_in(), loop)
        return fut.result(timeout)

    def finish_user_turn(self, answer_seconds: float = 0.3, timeout: float = 5.0) -> None:
        """End the user turn ``barge_in`` opened: ``speech_stopped``, ``committed``, an answer.

        That is what a server VAD with ``create_response`` does once the user stops talking.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("the scripted server is not running")
        fut = asyncio.run_coroutine_threadsafe(self._finish_user_turn(answer_seconds), loop)
        fut.result(timeout)

    def client_events(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        """Client events of type ``kind`` received so far, with their arrival times."""
        with self._lock:
            return [(t, e) for t, e in self.received if e.get("type") == kind]

    @staticmethod
    def reference(log_entry: ResponseLog) -> FloatArray:
        """The signal (24 kHz float) the server streams for ``log_entry``."""
        return reference_signal(log_entry)

    # -- connection ---------------------------------------------------------------------------

    def _authorized(self, ws: ServerConnection) -> bool:
        request = ws.request
        header = request.headers.get("Authorization", "") if request is not None else ""
        return header == f"Bearer {self.token}"

    async def _send(self, event: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        event.setdefault("event_id", f"event_s{next(self._ids)}")
        try:
            await ws.send(json.dumps(event))
        except ConnectionClosed:
            pass

    async def _handle(self, ws: ServerConnection) -> None:
        if not self._authorized(ws):
            await ws.close(1008, "bad token")
            return
        self._ws = ws
        await self._send(
            {
                "type": "session.created",
                "session": {"type": "realtime", "id": "sess_bench", "model": "scripted"},
            }
        )
        try:
            async for frame in ws:
                event = json.loads(frame)
                if not isinstance(event, dict):
                    continue
                with self._lock:
                    if event.get("type") == "input_audio_buffer.append":
                        self.appended_bytes += len(str(event.get("audio", ""))) * 3 // 4
                    else:
                        self.received.append((self._clock(), event))
                task = await self._on_client_event(event)
                if task is not None:
                    self._tasks.add(task)
        except ConnectionClosed:
            pass
        finally:
            if self._active is not None:
                self._active.cancel.set()
            self._ws = None

    async def _on_client_event(self, event: dict[str, Any]) -> asyncio.Task[None] | None:
        kind = event.get("type")
        if kind == "session.update":
            await self._send({"type": "session.updated", "session": {"type": "realtime"}})
        elif kind == "conversation.item.create":
            item = dict(event.get("item") or {})
            item.setdefault("id", f"item_u{next(self._ids)}")
            item["status"] = "completed"
            await self._send({"type": "conversation.item.added", "item": item})
            await self._send({"type": "conversation.item.done", "item": item})
        elif kind == "response.create":
            if self._active is not None:
                await self._error(event, "conversation_already_has_active_response")
                return None
            n = next(self._ids)
            with self._lock:
                pacing = self._pacing
                entry = ResponseLog(
                    f"resp_{n}",
                    f"item_a{n}",
                    pacing.seed * 1000 + n,
                    pacing.seconds,
                    audio=self.answer_audio,
                )
                self.responses.append(entry)
            self._active = entry
            return asyncio.create_task(self._respond(entry, pacing))
        elif kind == "response.cancel":
            active = self._active
            if active is None:
                await self._error(event, "response_cancel_not_active")
            else:
                active.cancel_reason = "client_cancelled"
                active.cancel.set()
        elif kind == "conversation.item.truncate":
            await self._send(
                {
                    "type": "conversation.item.truncated",
                    "item_id": event.get("item_id"),
                    "content_index": event.get("content_index", 0),
                    "audio_end_ms": event.get("audio_end_ms", 0),
                }
            )
        return None

    async def _error(self, event: dict[str, Any], code: str) -> None:
        await self._send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": code.replace("_", " "),
                    "param": None,
                    "event_id": event.get("event_id"),
                },
            }
        )

    async def _barge_in(self) -> float:
        sent_at = self._clock()
        await self._send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": 0,
                "item_id": f"item_u{next(self._ids)}",
            }
        )
        active = self._active
        if active is not None:
            active.cancel_reason = "turn_detected"
            active.cancel.set()
        return sent_at

    async def _finish_user_turn(self, answer_seconds: float) -> None:
        item_id = f"item_u{next(self._ids)}"
        await self._send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0,
                          "item_id": item_id})  # fmt: skip
        await self._send({"type": "input_audio_buffer.committed", "item_id": item_id,
                          "previous_item_id": None})  # fmt: skip
        if self._active is not None:
            return
        n = next(self._ids)
        with self._lock:
            pacing = self._pacing
            entry = ResponseLog(f"resp_{n}", f"item_a{n}", pacing.seed * 1000 + n, answer_seconds)
            self.responses.append(entry)
        self._active = entry
        self._tasks.add(asyncio.create_task(self._respond(entry, pacing)))

    async def _respond(self, entry: ResponseLog, pacing: Pacing) -> None:
        try:
            await stream_response(entry, pacing, self._send, self._clock, self._release)
        finally:
            self._tasks.discard(asyncio.current_task())

    def _release(self) -> None:
        self._active = None
