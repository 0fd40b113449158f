"""Announcements (a timer went off): spoken as a system turn once the assistant is idle."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app.events import PlaybackDrained
from app.runtime.commands import Announce, SendText
from app.session.driver import SessionDriver
from app.session.states import State
from tests.helpers.fake_playback import FakePlayback
from tests.helpers.scripted_server import ScriptedServer, wait_until
from tests.helpers.session_launch import scripted_config, start_listening


@pytest.fixture
def driver_and_server() -> Iterator[tuple[SessionDriver, FakePlayback, ScriptedServer]]:
    with ScriptedServer() as server:
        playback = FakePlayback()
        config = scripted_config(server.url)
        driver = SessionDriver(config, playback, lambda _e: None, auth=lambda: None)
        try:
            start_listening(driver)
            yield driver, playback, server
        finally:
            assert driver.stop(5.0)


def _system_items(server: ScriptedServer) -> list[str]:
    return [
        event["item"]["content"][0]["text"]
        for event in server.of_type("conversation.item.create")
        if event["item"].get("role") == "system"
    ]


def test_an_announcement_while_idle_is_spoken_at_once(
    driver_and_server: tuple[SessionDriver, FakePlayback, ScriptedServer],
) -> None:
    driver, _playback, server = driver_and_server
    driver.submit(Announce("Tell the user: your 10 minute timer is done."))
    wait_until(lambda: len(server.of_type("response.create")) == 1, 5, "response.create")
    assert _system_items(server) == ["Tell the user: your 10 minute timer is done."]
    kinds = server.types()
    assert kinds.index("conversation.item.create") < kinds.index("response.create")


def test_an_announcement_waits_until_the_assistant_has_finished(
    driver_and_server: tuple[SessionDriver, FakePlayback, ScriptedServer],
) -> None:
    driver, playback, server = driver_and_server
    driver.submit(SendText("tell me a story"))
    wait_until(lambda: playback.queued, 5, "the answer's audio")
    driver.submit(Announce("Tell the user: your tea timer is done."))
    # response.done arrived; the answer's audio is still playing (the tail)
    wait_until(lambda: driver.fsm_state is State.TAIL, 5, "the answer to finish")
    assert _system_items(server) == []  # never interrupts the answer being played
    assert len(server.of_type("response.create")) == 1
    driver.submit(PlaybackDrained(None, time.monotonic()))
    wait_until(lambda: len(server.of_type("response.create")) == 2, 5, "the announcement")
    assert _system_items(server) == ["Tell the user: your tea timer is done."]
