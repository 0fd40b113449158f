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
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.bench.e2e_detect import FloatArray, probe_signal, to_pcm16

log = logging.getLogger("app.bench")

RATE = 24000
BYTES_PER_MS = RATE * 2 // 1000


@dataclass(frozen=True, slots=True)
class Pacing:
    """When the server sends each audio delta of an answer.

    Attributes:
        chunk_ms: audio per delta.
        speed: send rate relative to real time (``0`` = as fast as the socket takes it).
        jitter_ms: each send time moves by a seeded uniform offset in ±``jitter_ms``
            (order kept).
        seconds: length of every answer.
        seed: seeds the jitter and (with the response number) the probe signal.
    """

    chunk_ms: int = 20
    speed: float = 0.0
    jitter_ms: float = 0.0
    seconds: float = 3.0
    seed: int = 7


@dataclass(slots=True)
class ResponseLog:
    """What the server did for one response (monotonic times).

    Attributes:
        response_id: the response.
        item_id: its assistant audio item.
        seed: seed of its probe signal (``reference()`` rebuilds it).
        created_at: ``response.created`` sent.
        first_delta_at: first audio delta sent.
        sent_ms: audio sent so far.
        done_at: ``response.done`` sent.
        status: final status.
    """

    response_id: str
    item_id: str
    seed: int
    seconds: float
    created_at: float = 0.0
    first_delta_at: float | None = None
    sent_ms: int = 0
    done_at: float | None = None
    status: str = "in_progress"
    audio: FloatArray | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: str = ""


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
        if log_entry.audio is not None:
            return log_entry.audio
        return probe_signal(log_entry.seconds, RATE, log_entry.seed)

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
            await self._stream(entry, pacing)
        finally:
            self._tasks.discard(asyncio.current_task())

    async def _stream(self, entry: ResponseLog, pacing: Pacing) -> None:
        rid, item_id = entry.response_id, entry.item_id
        base = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        entry.created_at = self._clock()
        await self._send(
            {
                "type": "response.created",
                "response": {"id": rid, "object": "realtime.response", "status": "in_progress"},
            }
        )
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress",
                "object": "realtime.item", "content": []}  # fmt: skip
        await self._send(
            {
                "type": "response.output_item.added",
                "response_id": rid,
                "output_index": 0,
                "item": item,
            }  # fmt: skip
        )
        await self._send({"type": "conversation.item.added", "item": item})
        await self._send({"type": "response.content_part.added", **base, "part": {"type": "audio"}})
        pcm = to_pcm16(self.reference(entry))
        step = pacing.chunk_ms * BYTES_PER_MS
        rng = random.Random(entry.seed)
        t0 = self._clock()
        last_at = t0
        for k, offset in enumerate(range(0, len(pcm), step)):
            if pacing.speed > 0:
                nominal = t0 + k * pacing.chunk_ms / 1000.0 / pacing.speed
                jitter = rng.uniform(-pacing.jitter_ms, pacing.jitter_ms) / 1000.0
                due = max(last_at, nominal + jitter)
                last_at = due
                delay = due - self._clock()
                if delay > 0:
                    try:
                        await asyncio.wait_for(entry.cancel.wait(), delay)
                    except TimeoutError:
                        pass
            if entry.cancel.is_set():
                break
            chunk = pcm[offset : offset + step]
            if entry.first_delta_at is None:
                entry.first_delta_at = self._clock()
            await self._send(
                {
                    "type": "response.output_audio.delta",
                    **base,
                    "delta": base64.b64encode(chunk).decode("ascii"),
                }  # fmt: skip
            )
            entry.sent_ms += len(chunk) // BYTES_PER_MS
            if pacing.speed <= 0 and k % 10 == 9:
                await asyncio.sleep(0)  # let control events (cancel) in between bursts
        cancelled = entry.cancel.is_set()
        await self._send({"type": "response.output_audio.done", **base})
        await self._send(
            {"type": "response.output_audio_transcript.done", **base, "transcript": "probe"}
        )
        await self._send({"type": "response.content_part.done", **base, "part": {"type": "audio"}})
        status = "cancelled" if cancelled else "completed"
        done_item = {**item, "status": "incomplete" if cancelled else "completed"}
        await self._send(
            {
                "type": "response.output_item.done",
                "response_id": rid,
                "output_index": 0,
                "item": done_item,
            }  # fmt: skip
        )
        details = {"type": "cancelled", "reason": entry.cancel_reason} if cancelled else None
        entry.status = status
        self._active = None
        entry.done_at = self._clock()
        await self._send(
            {
                "type": "response.done",
                "response": {
                    "id": rid,
                    "object": "realtime.response",
                    "status": status,
                    "status_details": details,
                    "output": [done_item],
                },  # fmt: skip
            }
        )
