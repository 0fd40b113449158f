"""The driver's outbox: client frames waiting for the writer, in order, with their audio batches.

Control events and uplink batches queued here are sent before any further microphone audio, in
the order they were queued. While no connection is open, everything offered is dropped (the
conversation state machine reconciles after a reconnect). ``sent`` counts client events by type;
``sent_log`` keeps recent control events (not audio) with the time they were queued.

Thread: the session loop thread only.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from app.session import messages as m
from app.session.protocol.openai import OpenAICodec
from app.session.uplink import UplinkBatch

log = logging.getLogger("app.session")


class Outbox:
    """Queued client frames for the current connection.

    Args:
        codec: builds client events from commands.
        clock: the monotonic clock.
        on_create: called when a ``response.create`` is queued (the response deadline starts).
    """

    def __init__(
        self, codec: OpenAICodec, clock: Callable[[], float], on_create: Callable[[], None]
    ) -> None:
        self._codec = codec
        self._clock = clock
        self._on_create = on_create
        self.frames: collections.deque[tuple[str, UplinkBatch | None]] = collections.deque()
        self.connected = False
        self.wake_event: asyncio.Event | None = None
        self._replay_ids = itertools.count(1)
        self.sent: collections.Counter[str] = collections.Counter()
        self.sent_log: collections.deque[tuple[float, dict[str, Any]]] = collections.deque(
            maxlen=500
        )

    def wake(self) -> None:
        """Wake the writer."""
        if self.wake_event is not None:
            self.wake_event.set()

    def send(self, command: m.ClientCommand) -> None:
        """Queue a client command (dropped when not connected)."""
        if not self.connected:
            log.debug("not connected; dropped %s", type(command).__name__)
            return
        self._queue(self._codec.payload(command), None)
        if isinstance(command, m.CreateResponse):
            self._on_create()

    def send_payload(self, payload: dict[str, Any]) -> None:
        """Queue a ready GA client event (a replayed context item) with a fresh ``event_id``."""
        if not self.connected:
            return
        body = dict(payload)
        body["event_id"] = f"evt_vdr{next(self._replay_ids)}"
        self._queue(body, None)

    def send_audio(self, batch: UplinkBatch) -> None:
        """Queue an uplink batch as ``input_audio_buffer.append`` ahead of later commands."""
        if self.connected:
            self._queue(self._codec.payload(m.AppendAudio(batch.pcm)), batch)

    def _queue(self, payload: dict[str, Any], batch: UplinkBatch | None) -> None:
        self.sent[str(payload["type"])] += 1
        if batch is None:
            self.sent_log.append((self._clock(), payload))
        self.frames.append((json.dumps(payload, separators=(",", ":")), batch))
        self.wake()
