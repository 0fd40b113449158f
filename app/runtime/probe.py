"""Check that a provider accepts a key: open a realtime session, wait for it, close it.

Used by the settings dialog's "Test connection". Every failure becomes the same sentence the
session would show for it (``notice_for``), never containing the key.
"""

from __future__ import annotations

import json
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from app.session import messages as m
from app.session.config import SessionConfig
from app.session.errors import classify_exception, notice_for, redact
from app.session.protocol.base import Codec, codec_for


def probe_connection(config: SessionConfig, secret: str | None, timeout: float) -> str:
    """Open a session as ``config`` says with ``secret`` and close it again.

    Thread: any but an asyncio loop's (it blocks up to ``timeout``).

    Returns:
        A short confirmation for the user.

    Raises:
        ConnectionError: with a message saying what failed and what to do.
    """
    codec = codec_for(config)
    try:
        with connect(
            codec.url(config),
            additional_headers=codec.headers(config, secret),
            open_timeout=timeout,
            close_timeout=2.0,
        ) as ws:
            for payload in codec.handshake(m.ConfigureSession(config), []):
                ws.send(json.dumps(payload))
            error = _first_answer(ws, codec, timeout)
    except ConnectionClosed as exc:  # the server closed the handshake (Gemini's auth errors)
        code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
        failure = codec.close_failure(code, reason)
        raise ConnectionError(notice_for(failure, config.provider).text) from None
    except Exception as exc:  # classified once, below, into words for the user
        failure = classify_exception(exc)
        raise ConnectionError(notice_for(failure, config.provider).text) from None
    if error is not None:
        raise ConnectionError(f"The server refused the session: {redact(error)}")
    return f"Connected to {config.provider} ({config.model})."


def _first_answer(ws: ClientConnection, codec: Codec, timeout: float) -> str | None:
    """Read until the provider confirms the session; the error message if it refuses it."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server did not confirm the session")
        for event in codec.decode_all(ws.recv(timeout=remaining)):
            if isinstance(event, m.SessionStarted):
                return None
            if isinstance(event, m.ServerError):
                return event.message
