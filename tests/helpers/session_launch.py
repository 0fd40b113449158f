"""Launching ``SessionDriver``s against the scripted servers in tests: config, start, teardown.

``scripted_config`` is a ``provider="test"`` config on a scripted server's address with fast
retries and timeouts; ``start_listening`` starts a driver and waits until it listens;
``running_drivers`` is the body of a ``running`` fixture (``pytest.fixture(running_drivers,
name="running")``): the drivers a test started, each stopped in time after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from app.events import AssistantState
from app.session.config import SessionConfig
from app.session.driver import SessionDriver
from tests.helpers.scripted_server import wait_until

FAST: Mapping[str, Any] = {
    "backoff_initial_s": 0.02,
    "backoff_max_s": 0.1,
    "connect_timeout_s": 2.0,
    "close_timeout_s": 0.5,
}
"""Retry and timeout settings that keep a scripted session's failures short."""


class Events(list[object]):
    """The events an observer received, in order."""

    def of(self, kind: type) -> list[Any]:
        """The events of type ``kind``."""
        return [e for e in list(self) if isinstance(e, kind)]


def scripted_config(url: str, fast: Mapping[str, Any] = FAST, **changes: Any) -> SessionConfig:
    """A ``provider="test"`` config on ``url``: ``fast`` settings, then ``changes``."""
    return SessionConfig(provider="test", url=url, **{**fast, **changes})


def start_listening(
    driver: SessionDriver, running: list[SessionDriver] | None = None, what: str = "listening"
) -> SessionDriver:
    """Start ``driver`` (kept in ``running`` for teardown) and wait until it listens."""
    if running is not None:
        running.append(driver)
    driver.start()
    wait_until(lambda: driver.state is AssistantState.LISTENING, 5, what)
    return driver


def running_drivers() -> Iterator[list[SessionDriver]]:
    """Yield a list for the drivers a test starts; afterwards each must stop within 5 s."""
    drivers: list[SessionDriver] = []
    yield drivers
    for driver in drivers:
        assert driver.stop(5.0)
