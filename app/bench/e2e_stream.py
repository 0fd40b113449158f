"""The scripted realtime server's answers: how each is paced and what is streamed for it.

``Pacing`` is the send schedule of an answer, ``ResponseLog`` what the server did for one
response (monotonic times), ``reference_signal`` the probe signal (or the set answer audio) an
answer carries, and ``stream_response`` sends one answer's events on that schedule until it ends
or is cancelled. ``app.bench.e2e_scripted`` owns the connection and calls ``stream_response``.

Thread: the scripted server's ``scripted-realtime`` loop thread (``Pacing`` and ``ResponseLog``
are read by the bench thread too).
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.bench.e2e_detect import FloatArray, probe_signal, to_pcm16

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


def reference_signal(log_entry: ResponseLog) -> FloatArray:
    """The signal (24 kHz float) the server streams for ``log_entry``."""
    if log_entry.audio is not None:
        return log_entry.audio
    return probe_signal(log_entry.seconds, RATE, log_entry.seed)


async def stream_response(
    entry: ResponseLog,
    pacing: Pacing,
    send: Callable[[dict[str, Any]], Awaitable[None]],
    clock: Callable[[], float],
    on_done: Callable[[], None],
) -> None:
    """Send one answer: created, its audio deltas on ``pacing``'s schedule, then done.

    Args:
        entry: the response; its times, sent audio and final status are recorded in it, and its
            ``cancel`` event ends the audio early (``response.done`` then says cancelled).
        pacing: the send schedule.
        send: sends one server event.
        clock: the monotonic clock shared with the rig's recorders.
        on_done: called right before ``response.done`` is sent (the response is no longer active).
    """
    rid, item_id = entry.response_id, entry.item_id
    base = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
    entry.created_at = clock()
    await send(
        {
            "type": "response.created",
            "response": {"id": rid, "object": "realtime.response", "status": "in_progress"},
        }
    )
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress",
            "object": "realtime.item", "content": []}  # fmt: skip
    await send(
        {
            "type": "response.output_item.added",
            "response_id": rid,
            "output_index": 0,
            "item": item,
        }  # fmt: skip
    )
    await send({"type": "conversation.item.added", "item": item})
    await send({"type": "response.content_part.added", **base, "part": {"type": "audio"}})
    pcm = to_pcm16(reference_signal(entry))
    step = pacing.chunk_ms * BYTES_PER_MS
    rng = random.Random(entry.seed)
    t0 = clock()
    last_at = t0
    for k, offset in enumerate(range(0, len(pcm), step)):
        if pacing.speed > 0:
            nominal = t0 + k * pacing.chunk_ms / 1000.0 / pacing.speed
            jitter = rng.uniform(-pacing.jitter_ms, pacing.jitter_ms) / 1000.0
            due = max(last_at, nominal + jitter)
            last_at = due
            delay = due - clock()
            if delay > 0:
                try:
                    await asyncio.wait_for(entry.cancel.wait(), delay)
                except TimeoutError:
                    pass
        if entry.cancel.is_set():
            break
        chunk = pcm[offset : offset + step]
        if entry.first_delta_at is None:
            entry.first_delta_at = clock()
        await send(
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
    await send({"type": "response.output_audio.done", **base})
    await send({"type": "response.output_audio_transcript.done", **base, "transcript": "probe"})
    await send({"type": "response.content_part.done", **base, "part": {"type": "audio"}})
    status = "cancelled" if cancelled else "completed"
    done_item = {**item, "status": "incomplete" if cancelled else "completed"}
    await send(
        {
            "type": "response.output_item.done",
            "response_id": rid,
            "output_index": 0,
            "item": done_item,
        }  # fmt: skip
    )
    details = {"type": "cancelled", "reason": entry.cancel_reason} if cancelled else None
    entry.status = status
    on_done()
    entry.done_at = clock()
    await send(
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
