"""The driver's outbox: client frames waiting for the writer, in order, with their audio batches.

Control events and uplink batches queued here are sent before any further microphone audio, in
the order they were queued. While no connection is open, everything offered is dropped (the
conversation state machine reconciles after a reconnect). A command may become several frames or
none (the provider codec decides). ``sent`` counts client frames by the codec's label;
``sent_log`` keeps recent control frames (not audio) with the time they were queued.

Thread: the session loop thread only.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from typing import Any

from app.session import messages as m
from app.session.protocol.base import Codec
from app.session.uplink import UplinkBatch

log = logging.getLogger("app.session")


class Outbox:
    """Queued client frames for the current connection.

    Args:
        codec: builds client frames from commands.
        clock: the monotonic clock.
        on_create: called when a ``response.create`` is queued (the response deadline starts).
    """

    def __init__(
        self, codec: Codec, clock: Callable[[], float], on_create: Callable[[], None]
    ) -> None:
        self._codec = codec
        self._clock = clock
        self._on_create = on_create
        self.frames: collections.deque[tuple[str, UplinkBatch | None]] = collections.deque()
        self.connected = False
        self.wake_event: asyncio.Event | None = None
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
        for payload in self._codec.payloads(command):
            self._queue(payload, None)
        if isinstance(command, m.CreateResponse):
            self._on_create()  # the answer is due even when the provider needs no frame

    def send_payload(self, payload: dict[str, Any]) -> None:
        """Queue a ready client frame (configuration, a replayed context item)."""
        if self.connected:
            self._queue(payload, None)

    def send_audio(self, batch: UplinkBatch) -> None:
        """Queue an uplink batch (its audio frames) ahead of later commands."""
        if not self.connected:
            return
        frames = self._codec.payloads(m.AppendAudio(batch.pcm))
        for index, payload in enumerate(frames):
            # The batch rides on its last frame: it counts as sent when its audio left.
            self._queue(payload, batch if index == len(frames) - 1 else None)

    def _queue(self, payload: dict[str, Any], batch: UplinkBatch | None) -> None:
        self.sent[self._codec.event_type(payload)] += 1
        if batch is None:
            self.sent_log.append((self._clock(), payload))
        self.frames.append((json.dumps(payload, separators=(",", ":")), batch))
        self.wake()
