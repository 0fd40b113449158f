"""Failure classification: every connection or provider failure maps to one ``ErrorCategory``.

Classification happens once, where the failure is caught; the driver then only asks
``category.is_permanent`` (retry or stop) and ``notice_for`` (what to tell the user). Messages
never contain secrets: server texts are shortened and stripped of anything that looks like a key.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import websockets.exceptions as wsx

from app.events import NoticeCategory, NoticeLevel, UserNotice


class ErrorCategory(enum.Enum):
    """What kind of failure happened."""

    CONNECTIVITY = "connectivity"
    SERVER = "server"
    RATE_LIMIT = "rate_limit"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    INVALID_REQUEST = "invalid_request"
    QUOTA = "quota"
    DEVICE = "device"
    INTERNAL = "internal"  # a bug in VoxDesk stopped the session

    @property
    def is_permanent(self) -> bool:
        """Whether retrying cannot help until the user changes something."""
        return self in _PERMANENT


_PERMANENT = frozenset(
    {
        ErrorCategory.AUTHENTICATION,
        ErrorCategory.AUTHORIZATION,
        ErrorCategory.INVALID_REQUEST,
        ErrorCategory.QUOTA,
        ErrorCategory.DEVICE,
        ErrorCategory.INTERNAL,
    }
)

_SECRETISH = re.compile(r"(sk-[A-Za-z0-9_\-]{4,}|Bearer\s+\S+|ek_[A-Za-z0-9_\-]{4,})")


def redact(text: str, limit: int = 200) -> str:
    """Shorten ``text`` and mask anything that looks like a key or bearer token."""
    return _SECRETISH.sub("[redacted]", text)[:limit]


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure.

    Attributes:
        category: the class of failure.
        detail: short, redacted description for logs and notices.
        retry_after_s: the server's retry hint, if any.
    """

    category: ErrorCategory
    detail: str
    retry_after_s: float | None = None


def classify_status(status: int, body: str = "") -> ErrorCategory:
    """Classify an HTTP status of a refused WebSocket handshake."""
    lowered = body.lower()
    if status == 401:
        return ErrorCategory.AUTHENTICATION
    if status == 403:
        return ErrorCategory.AUTHORIZATION
    if status == 429:
        return ErrorCategory.QUOTA if "insufficient_quota" in lowered else ErrorCategory.RATE_LIMIT
    if status == 408 or status >= 500:
        return ErrorCategory.SERVER
    return ErrorCategory.INVALID_REQUEST


def classify_close(code: int | None) -> ErrorCategory:
    """Classify a close frame the server sent (1001 = session limit or going away)."""
    if code in (1002, 1003, 1007, 1008, 1009):
        return ErrorCategory.INVALID_REQUEST
    if code in (1011, 1012, 1013, 1014):
        return ErrorCategory.SERVER
    if code == 4001:
        return ErrorCategory.AUTHENTICATION
    return ErrorCategory.CONNECTIVITY


def classify_exception(exc: BaseException) -> Failure:
    """Classify an exception raised while connecting, reading or writing."""
    if isinstance(exc, wsx.InvalidStatus):
        response = exc.response
        body = bytes(response.body or b"").decode("utf-8", "replace")
        retry = _retry_after(response.headers.get("Retry-After"))
        category = classify_status(response.status_code, body)
        return Failure(category, redact(f"HTTP {response.status_code} {body}".strip()), retry)
    if isinstance(exc, wsx.InvalidURI):
        return Failure(ErrorCategory.INVALID_REQUEST, "invalid server address")
    if isinstance(exc, wsx.ConnectionClosed):
        frame = exc.rcvd
        code = frame.code if frame is not None else None
        reason = frame.reason if frame is not None else "no close frame"
        return Failure(classify_close(code), redact(f"closed {code}: {reason}"))
    if isinstance(exc, wsx.InvalidHandshake | wsx.ProtocolError):
        return Failure(ErrorCategory.SERVER, redact(f"handshake failed: {exc}"))
    if isinstance(exc, TimeoutError):
        return Failure(ErrorCategory.CONNECTIVITY, "timed out")
    if isinstance(exc, OSError):
        return Failure(ErrorCategory.CONNECTIVITY, redact(f"network error: {exc.strerror or exc}"))
    return Failure(ErrorCategory.SERVER, redact(f"{type(exc).__name__}: {exc}"))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# In-band error codes that are fatal for the session; every other in-band error is reported
# and the socket keeps working.
_FATAL_CODES: dict[str, ErrorCategory] = {
    "invalid_api_key": ErrorCategory.AUTHENTICATION,
    "authentication_error": ErrorCategory.AUTHENTICATION,
    "insufficient_quota": ErrorCategory.QUOTA,
    "model_not_found": ErrorCategory.INVALID_REQUEST,
    "beta_api_shape_disabled": ErrorCategory.INVALID_REQUEST,
}


def classify_server_error(kind: str, code: str | None) -> ErrorCategory | None:
    """Return the category of an in-band ``error`` event when it ends the session, else None."""
    if code in _FATAL_CODES:
        return _FATAL_CODES[code]
    if kind in ("authentication_error", "invalid_api_key"):
        return ErrorCategory.AUTHENTICATION
    if kind == "insufficient_quota":
        return ErrorCategory.QUOTA
    return None


_NOTICE_CATEGORY = {
    ErrorCategory.CONNECTIVITY: NoticeCategory.CONNECTIVITY,
    ErrorCategory.SERVER: NoticeCategory.CONNECTIVITY,
    ErrorCategory.RATE_LIMIT: NoticeCategory.QUOTA,
    ErrorCategory.AUTHENTICATION: NoticeCategory.AUTHENTICATION,
    ErrorCategory.AUTHORIZATION: NoticeCategory.AUTHENTICATION,
    ErrorCategory.INVALID_REQUEST: NoticeCategory.INVALID_REQUEST,
    ErrorCategory.QUOTA: NoticeCategory.QUOTA,
    ErrorCategory.DEVICE: NoticeCategory.AUDIO_DEVICE,
    ErrorCategory.INTERNAL: NoticeCategory.GENERAL,
}

_ADVICE = {
    ErrorCategory.CONNECTIVITY: "Cannot reach the voice service; retrying.",
    ErrorCategory.SERVER: "The voice service had a problem; retrying.",
    ErrorCategory.RATE_LIMIT: "The voice service is rate-limiting requests; retrying shortly.",
    ErrorCategory.AUTHENTICATION: "The voice service refused the API key. Check it in Settings.",
    ErrorCategory.AUTHORIZATION: "This API key may not use this model. Check it in Settings.",
    ErrorCategory.INVALID_REQUEST: "The voice service rejected the settings (model or address).",
    ErrorCategory.QUOTA: "Out of quota. Check billing, or switch to the local engine.",
    ErrorCategory.DEVICE: "The audio device failed. Pick another device in Settings.",
    ErrorCategory.INTERNAL: "The voice session stopped on an internal error; reconnect to go on.",
}


def notice_for(failure: Failure, provider: str) -> UserNotice:
    """Return the user notice for ``failure`` (an ERROR with an action when permanent).

    The action is ``"reconnect"`` after an internal error (a new session may work), else
    ``"open_settings"`` (the user must change something first).
    """
    permanent = failure.category.is_permanent
    action = "open_settings" if permanent else None
    if failure.category is ErrorCategory.INTERNAL:
        action = "reconnect"
    text = f"{provider}: {_ADVICE[failure.category]} ({failure.detail})"
    return UserNotice(
        level=NoticeLevel.ERROR if permanent else NoticeLevel.WARNING,
        category=_NOTICE_CATEGORY[failure.category],
        text=text,
        action=action,
    )
