"""Failure classification on its own: statuses, close codes, exceptions, in-band errors."""

from __future__ import annotations

import pytest
import websockets.exceptions as wsx
from websockets.datastructures import Headers
from websockets.frames import Close
from websockets.http11 import Response

from app.events import NoticeCategory, NoticeLevel
from app.session.errors import (
    ErrorCategory,
    Failure,
    classify_close,
    classify_exception,
    classify_server_error,
    classify_status,
    notice_for,
    redact,
)

E = ErrorCategory


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, "", E.AUTHENTICATION),
        (403, "", E.AUTHORIZATION),
        (429, '{"error": {"code": "rate_limit_exceeded"}}', E.RATE_LIMIT),
        (429, '{"error": {"code": "insufficient_quota"}}', E.QUOTA),
        (408, "", E.SERVER),
        (500, "", E.SERVER),
        (503, "", E.SERVER),
        (400, "", E.INVALID_REQUEST),
        (404, "", E.INVALID_REQUEST),
    ],
)
def test_handshake_statuses(status: int, body: str, expected: ErrorCategory) -> None:
    assert classify_status(status, body) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1000, E.CONNECTIVITY),
        (1001, E.CONNECTIVITY),  # the 60-minute limit: reconnect
        (1006, E.CONNECTIVITY),
        (None, E.CONNECTIVITY),
        (1008, E.INVALID_REQUEST),  # retired or mismatched model
        (1009, E.INVALID_REQUEST),
        (1011, E.SERVER),
        (1013, E.SERVER),
        (4001, E.AUTHENTICATION),
    ],
)
def test_close_codes(code: int | None, expected: ErrorCategory) -> None:
    assert classify_close(code) is expected


def test_permanence_decides_retry_or_stop() -> None:
    retry = {E.CONNECTIVITY, E.SERVER, E.RATE_LIMIT}
    assert {c for c in E if not c.is_permanent} == retry


def test_refused_handshake_keeps_retry_after_and_redacts_the_body() -> None:
    response = Response(
        429, "Too Many", Headers({"Retry-After": "7"}), b'{"msg": "slow down sk-abcdefgh1234"}'
    )
    failure = classify_exception(wsx.InvalidStatus(response))
    assert failure.category is E.RATE_LIMIT and failure.retry_after_s == 7.0
    assert "sk-abcdefgh" not in failure.detail and "[redacted]" in failure.detail
    bad = Response(401, "No", Headers({"Retry-After": "soon"}), b"")
    assert classify_exception(wsx.InvalidStatus(bad)) == Failure(E.AUTHENTICATION, "HTTP 401")


def test_exceptions_while_connected_or_connecting() -> None:
    closed = wsx.ConnectionClosedError(Close(1011, "internal"), None)
    assert classify_exception(closed).category is E.SERVER
    no_frame = wsx.ConnectionClosedError(None, None)
    assert classify_exception(no_frame).category is E.CONNECTIVITY
    assert classify_exception(TimeoutError()).category is E.CONNECTIVITY
    refused = classify_exception(ConnectionRefusedError(111, "Connection refused"))
    assert refused == Failure(E.CONNECTIVITY, "network error: Connection refused")
    assert classify_exception(wsx.InvalidURI("x", "bad")).category is E.INVALID_REQUEST
    assert classify_exception(wsx.InvalidHandshake("odd")).category is E.SERVER
    assert classify_exception(RuntimeError("boom")).category is E.SERVER


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("invalid_request_error", "invalid_api_key", E.AUTHENTICATION),
        ("authentication_error", None, E.AUTHENTICATION),
        ("insufficient_quota", None, E.QUOTA),
        ("invalid_request_error", "insufficient_quota", E.QUOTA),
        ("invalid_request_error", "model_not_found", E.INVALID_REQUEST),
        ("invalid_request_error", "beta_api_shape_disabled", E.INVALID_REQUEST),
        ("invalid_request_error", "conversation_already_has_active_response", None),
        ("invalid_request_error", "response_cancel_not_active", None),
        ("invalid_request_error", "input_audio_buffer_commit_empty", None),
        ("server_error", None, None),
    ],
)
def test_in_band_errors(kind: str, code: str | None, expected: ErrorCategory | None) -> None:
    assert classify_server_error(kind, code) is expected


def test_notices_say_what_to_do_and_never_leak_keys() -> None:
    permanent = notice_for(
        Failure(E.AUTHENTICATION, redact("bad key Bearer sk-live-123456")), "openai"
    )
    assert permanent.level is NoticeLevel.ERROR and permanent.action == "open_settings"
    assert permanent.category is NoticeCategory.AUTHENTICATION and "sk-live" not in permanent.text
    transient = notice_for(Failure(E.CONNECTIVITY, "timed out"), "local")
    assert transient.level is NoticeLevel.WARNING and transient.action is None
    assert transient.text.startswith("local: ")
    for category in E:
        assert notice_for(Failure(category, "x"), "p").text
    assert len(redact("a" * 500)) == 200
