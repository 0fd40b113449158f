"""Connection supervision for the session driver: connect, classify, back off, retry or give up.

``ConnectionSupervisor`` is mixed into :class:`app.session.driver.SessionDriver` (which provides
the attributes and ``_connection``). ``_supervise`` runs one ``Connection`` after another:
a clean end (renewal) reconnects at once; a failure is retried after ``backoff_delay`` (jittered
exponential, at least the server's ``retry_after``) until it is permanent or ``max_retries`` is
spent, which fails the conversation. A stop while connecting cancels the attempt. If the loop
itself crashes, ``_publish_crash`` tells observers FAILED.

Thread: the ``session-loop`` thread only.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from app.events import ConnectionState
from app.session.collaborators import ContextLike, MemoryLike
from app.session.config import SessionConfig
from app.session.connection import Connection, Endpoint
from app.session.conversation import Conversation
from app.session.errors import ErrorCategory, Failure, redact
from app.session.outbox import Outbox
from app.session.protocol.base import Codec
from app.session.states import Ev

log = logging.getLogger("app.session")


def backoff_delay(attempt: int, config: SessionConfig, retry_after: float | None = None) -> float:
    """Return the jittered exponential delay before reconnect attempt ``attempt`` (1-based)."""
    base = config.backoff_initial_s * config.backoff_factor ** max(0, attempt - 1)
    delay = min(config.backoff_max_s, base) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class ConnectionSupervisor:
    """The reconnect loop; mixed into ``SessionDriver``, which provides the attributes."""

    conversation: Conversation
    _config: SessionConfig
    _codec: Codec
    _outbox: Outbox
    _auth: Callable[[], str | None]
    _memory: MemoryLike | None
    _context: ContextLike | None
    _clock: Callable[[], float]
    _tool_schemas: tuple[dict[str, object], ...]
    _link: Connection | None
    _stopping: bool
    _stop_event: asyncio.Event | None
    _wake: asyncio.Event | None
    _connected_at: float
    _connecting: asyncio.Task[Any] | None

    def _connection(self, state: ConnectionState, detail: str = "") -> None:
        """Publish a connection state (provided by ``SessionDriver``)."""
        raise NotImplementedError

    def _publish_crash(self, exc: BaseException) -> None:
        """The loop died: nothing will change the state again, so observers must hear FAILED."""
        if self._stopping:
            return
        failure = Failure(ErrorCategory.INTERNAL, redact(f"{type(exc).__name__}: {exc}"))
        conv = self.conversation
        conv.failure = failure
        try:
            conv.dispatch(Ev.PERMANENT_FAILURE, failure.detail)
        except Exception:
            log.exception("could not wind the conversation down after the crash")
        self._connection(ConnectionState.FAILED, failure.detail)

    async def _sleep_or_stop(self, delay: float) -> None:
        assert self._stop_event is not None
        try:
            await asyncio.wait_for(self._stop_event.wait(), timeout=delay)
        except TimeoutError:
            pass

    async def _supervise(self) -> None:
        assert self._stop_event is not None
        conv = self.conversation
        conv.dispatch(Ev.START, "start")
        failures = 0
        while not self._stopping:
            self._connection(
                ConnectionState.RECONNECTING if failures else ConnectionState.CONNECTING
            )
            self._connected_at = 0.0
            failure = await self._connect_once()
            if self._stopping:
                break
            if failure is None:
                failures = 0
                continue
            if self._connected_at:
                failures = 0
            failures += 1
            log.warning("connection failed (%s): %s", failure.category.value, failure.detail)
            if not failure.category.is_permanent and failures > self._config.max_retries:
                failure = Failure(failure.category, f"gave up after {failures - 1} retries")
            if failure.category.is_permanent or failures > self._config.max_retries:
                conv.failure = failure
                conv.dispatch(Ev.PERMANENT_FAILURE, failure.detail)
                self._connection(ConnectionState.FAILED, failure.detail)
                await self._stop_event.wait()
                break
            conv.dispatch(Ev.CONNECTION_LOST, failure.detail)
            delay = backoff_delay(failures, self._config, failure.retry_after_s)
            log.info("reconnecting in %.2f s (attempt %d)", delay, failures)
            await self._sleep_or_stop(delay)
            if not self._stopping:
                conv.dispatch(Ev.RETRY_DUE, f"attempt {failures}")

    async def _connect_once(self) -> Failure | None:
        # A stop while connecting cancels the attempt instead of waiting for its timeout.
        task = asyncio.current_task()
        self._connecting = task
        try:
            return await self._connect_and_run()
        except asyncio.CancelledError:
            if not self._stopping or task is None:
                raise
            task.uncancel()
            return None
        finally:
            self._connecting = None

    async def _connect_and_run(self) -> Failure | None:
        assert self._wake is not None
        endpoint = Endpoint(
            codec=self._codec,
            outbox=self._outbox,
            conversation=self.conversation,
            auth=self._auth,
            memory=self._memory,
            context=self._context,
            tool_schemas=lambda: self._tool_schemas,
            wake=self._wake,
            stopping=lambda: self._stopping,
            clock=self._clock,
        )
        link = self._link = Connection(self._config, endpoint, self._connection_started)
        try:
            return await link.run()
        finally:
            self._link = None

    def _connection_started(self) -> None:
        self._connecting = None  # from now on a stop ends the writer instead of cancelling
        assert self._link is not None
        self._connected_at = self._link.connected_at
        self._connection(ConnectionState.CONNECTED)
