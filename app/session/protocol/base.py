"""What the driver needs from a provider codec, and the choice of codec by provider.

A codec is sans-I/O: it builds the address and handshake headers, the frames sent before and
after the provider confirms the session, decodes server frames into typed events (a frame may
carry several) and encodes typed commands into zero or more client frames. ``configure_in_band``
says whether new settings can be sent on an open connection (OpenAI ``session.update``) or need a
new one (Gemini ``setup``); ``truncates`` whether heard audio can be cut (OpenAI truncate) or only
described (the repair note); ``cancels`` whether a response can be stopped (OpenAI cancel) or
runs on until the server finishes it (Gemini); ``resumes`` whether the next connection continues
the server-side conversation (then the kept context is not replayed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from app.session import messages as m
from app.session.config import SessionConfig
from app.session.errors import Failure
from app.session.protocol.gemini import GeminiCodec
from app.session.protocol.openai import OpenAICodec


class Codec(Protocol):
    """The provider codec interface the session driver uses."""

    malformed: Counter[str]
    unknown: Counter[str]
    configure_in_band: bool
    truncates: bool
    cancels: bool

    @property
    def resumes(self) -> bool:
        """Whether the next connection resumes the server-side conversation."""

    def url(self, config: SessionConfig) -> str:
        """The WebSocket address for ``config``."""

    def headers(self, config: SessionConfig, secret: str | None) -> dict[str, str]:
        """Handshake headers carrying ``secret``."""

    def handshake(
        self, configure: m.ConfigureSession, seed: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Frames sent right after the socket opens, before the session is confirmed."""

    def after_start(
        self, configure: m.ConfigureSession, seed: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Frames sent once the session is confirmed (configuration, replayed context)."""

    def decode_all(self, frame: str | bytes) -> list[m.ServerEvent]:
        """Typed events of one server frame (empty when ignored or rejected)."""

    def payloads(self, command: m.ClientCommand) -> list[dict[str, Any]]:
        """Client frames for ``command`` (empty when the provider has no such message)."""

    def event_type(self, payload: Mapping[str, Any]) -> str:
        """A short label of a client frame, for counters and logs."""

    def close_failure(self, code: int | None, reason: str) -> Failure:
        """Classify a close frame the server sent."""


def codec_for(config: SessionConfig) -> Codec:
    """Return a fresh codec for ``config.provider`` (Gemini Live or OpenAI Realtime)."""
    if config.provider == "gemini":
        return GeminiCodec(config, config.max_frame_bytes)
    return OpenAICodec(config.max_frame_bytes)
