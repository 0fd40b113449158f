"""A ``response.cancel`` that crosses the response's own end is a benign race, not a problem."""

from __future__ import annotations

import logging

import pytest

from app.session import messages as m
from app.session.config import SessionConfig
from app.session.conversation import Conversation
from tests.helpers.fake_playback import FakePlayback


def _conversation(sent: list[object], emitted: list[object]) -> Conversation:
    return Conversation(
        SessionConfig(),
        FakePlayback(),
        emitted.append,
        sent.append,
        lambda _batch: None,
        lambda: None,
        None,
        None,
        None,
        clock=lambda: 0.0,
    )


def test_cancel_not_active_is_counted_but_neither_warned_nor_noticed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[object] = []
    emitted: list[object] = []
    conv = _conversation(sent, emitted)
    race = m.ServerError(
        "invalid_request_error",
        "response_cancel_not_active",
        "Cancellation failed: no active response found",
        None,
        "evt_1",
    )
    with caplog.at_level(logging.DEBUG, logger="app.session"):
        conv.on_server_event(race)
    assert conv.server_errors["response_cancel_not_active"] == 1
    assert emitted == [] and sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_other_in_band_errors_are_still_warned(caplog: pytest.LogCaptureFixture) -> None:
    conv = _conversation([], [])
    err = m.ServerError(
        "invalid_request_error",
        "conversation_already_has_active_response",
        "busy",
        None,
        "evt_2",
    )
    with caplog.at_level(logging.WARNING, logger="app.session"):
        conv.on_server_event(err)
    assert conv.server_errors["conversation_already_has_active_response"] == 1
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
