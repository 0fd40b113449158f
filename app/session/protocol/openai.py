"""Sans-I/O codec for the OpenAI Realtime protocol (GA names and shapes; beta names accepted).

``OpenAICodec.decode`` turns one server frame into a typed event from ``app.session.messages``
(or ``None``); ``OpenAICodec.encode`` turns a typed command into one client JSON frame. Nothing
here touches a socket. Malformed frames (bad JSON, wrong types, invalid base64, absurd sizes) are
counted, logged and dropped; unknown event types are logged once per type and ignored. The
per-type parsers are in ``openai_decode``, the client-event builders in ``openai_encode``; this
module holds the codec object, its connection hooks and its counters.

Thread: the session loop thread only (``app.session.connection`` and ``app.session.outbox``).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import Counter
from collections.abc import Mapping

from app.session import messages as m
from app.session.config import SessionConfig, auth_headers, realtime_url
from app.session.errors import Failure, classify_close, redact
from app.session.protocol.openai_decode import (
    IGNORED_TYPES,
    PARSERS,
    MalformedEvent,
    event_kind,
)
from app.session.protocol.openai_encode import encode_command

log = logging.getLogger("app.session.protocol")


class OpenAICodec:
    """Stateless-per-frame translator between OpenAI Realtime JSON and typed messages.

    Attributes:
        malformed: count of rejected frames by reason.
        unknown: count of unknown event types seen.
        configure_in_band: ``session.update`` applies new settings on an open connection.
        truncates: ``conversation.item.truncate`` cuts an assistant item at what was heard.
        cancels: ``response.cancel`` ends a response at once (its ``response.done`` follows).
        resumes: a new connection starts an empty conversation (the kept context is replayed).
    """

    configure_in_band = True
    truncates = True
    cancels = True
    resumes = False

    def __init__(self, max_frame_bytes: int = 8 * 1024 * 1024) -> None:
        self._max_frame_bytes = max_frame_bytes
        self._ids = itertools.count(1)
        self._replay_ids = itertools.count(1)
        self.malformed: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()

    # ------------------------------------------------------------------ connection

    def url(self, config: SessionConfig) -> str:
        """The WebSocket address (``<base>/realtime?model=…`` or ``config.url``)."""
        return realtime_url(config)

    def headers(self, config: SessionConfig, secret: str | None) -> dict[str, str]:
        """Handshake headers carrying ``secret`` (``Authorization: Bearer`` by default)."""
        return auth_headers(config, secret)

    def handshake(
        self, configure: m.ConfigureSession, seed: list[dict[str, object]]
    ) -> list[dict[str, object]]:
        """Nothing: the server speaks first (``session.created``)."""
        return []

    def after_start(
        self, configure: m.ConfigureSession, seed: list[dict[str, object]]
    ) -> list[dict[str, object]]:
        """The ``session.update``, then the kept context as ``conversation.item.create`` events."""
        frames = [self.payload(configure)]
        for payload in seed:
            body = dict(payload)
            body["event_id"] = f"evt_vdr{next(self._replay_ids)}"
            frames.append(body)
        return frames

    def close_failure(self, code: int | None, reason: str) -> Failure:
        """Classify a close frame (1001 = session limit or going away: reconnect)."""
        return Failure(classify_close(code), redact(f"closed {code}: {reason}"))

    def decode_all(self, frame: str | bytes) -> list[m.ServerEvent]:
        """The typed event of one server frame as a list (one frame is one event here)."""
        event = self.decode(frame)
        return [] if event is None else [event]

    def payloads(self, command: m.ClientCommand) -> list[dict[str, object]]:
        """The client event for ``command`` as a one-element list."""
        return [self.payload(command)]

    @staticmethod
    def event_type(payload: Mapping[str, object]) -> str:
        """The client event's ``type``."""
        return str(payload.get("type", ""))

    # ------------------------------------------------------------------ decoding

    def decode(self, frame: str | bytes) -> m.ServerEvent | None:
        """Return the typed event for one server frame, or ``None`` (ignored or rejected)."""
        try:
            if len(frame) > self._max_frame_bytes:
                raise MalformedEvent(f"frame of {len(frame)} bytes exceeds the limit")
            try:
                data = json.loads(frame)
            except (ValueError, UnicodeDecodeError) as exc:
                raise MalformedEvent("not JSON") from exc
            if not isinstance(data, dict):
                raise MalformedEvent("not a JSON object")
            kind = event_kind(data)
            parser = PARSERS.get(kind)
            if parser is None:
                if kind not in IGNORED_TYPES:
                    self._unknown(kind)
                return None
            return parser(data)
        except MalformedEvent as exc:
            reason = str(exc)
            self.malformed[reason] += 1
            if self.malformed[reason] == 1 or self.malformed[reason] % 100 == 0:
                log.warning(
                    "rejected malformed server event (%s), %d so far",
                    reason,
                    self.malformed[reason],
                )
            return None

    def _unknown(self, kind: str) -> None:
        self.unknown[kind] += 1
        if self.unknown[kind] == 1:
            log.info("ignoring unknown server event type %r", kind[:80])

    # ------------------------------------------------------------------ encoding

    def encode(self, command: m.ClientCommand) -> str:
        """Return the client JSON frame for ``command`` (with a fresh ``event_id``)."""
        return json.dumps(self.payload(command), separators=(",", ":"))

    def payload(self, command: m.ClientCommand) -> dict[str, object]:
        """Return the client event for ``command`` as a dict (with a fresh ``event_id``)."""
        body = encode_command(command)
        body["event_id"] = f"evt_vd{next(self._ids)}"
        return body
