"""A plain websockets client for the local engine tests: every received event is validated
against the official openai realtime types."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from websockets.sync.client import ClientConnection, connect

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
TIMEOUT_S = 60.0


class EngineClient:
    """Sync client: ``send`` events, ``until`` a type arrives, everything kept in ``events``."""

    def __init__(self, url: str, token: str, query: str = "?model=gpt-realtime") -> None:
        self._connect = connect(
            url + query,
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
            open_timeout=10,
        )
        self.ws: ClientConnection = self._connect.__enter__()
        self.events: list[dict[str, Any]] = []
        self.arrival: list[float] = []

    def close(self) -> None:
        self._connect.__exit__(None, None, None)

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, event: dict[str, Any] | str | bytes) -> None:
        self.ws.send(event if isinstance(event, str | bytes) else json.dumps(event))

    def recv(self, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        event = json.loads(self.ws.recv(timeout=timeout))
        SERVER_EVENT.validate_python(event)  # raises on any shape the real server would not send
        self.events.append(event)
        self.arrival.append(time.monotonic())
        return event

    def until(self, kind: str, timeout: float = TIMEOUT_S) -> list[dict[str, Any]]:
        """Receive until an event of type ``kind``; returns the events received, it included."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            event = self.recv(max(0.01, deadline - time.monotonic()))
            got.append(event)
            if event["type"] == kind:
                return got

    def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds`` (used to prove nothing more comes)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.recv(left))
            except TimeoutError:
                break
        return got

    def say_text(self, text: str) -> None:
        self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )

    def ptt_session(self, **extra: Any) -> None:
        self.send(
            {
                "type": "session.update",
                "event_id": "evt_ptt",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"turn_detection": None}},
                    **extra,
                },
            }
        )
        self.until("session.updated")

    def append_pcm(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = chunk_ms * 48
        for start in range(0, len(pcm), step):
            self.send(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(pcm[start : start + step]).decode(),
                }
            )


def transcript_of(events: list[dict[str, Any]]) -> str:
    done = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
    return done[-1]["transcript"] if done else ""


def audio_of(events: list[dict[str, Any]], response_id: str | None = None) -> bytes:
    return b"".join(
        base64.b64decode(e["delta"])
        for e in events
        if e["type"] == "response.output_audio.delta"
        and (response_id is None or e["response_id"] == response_id)
    )
