"""Blocking reads (keyring, SQLite) run on a daemon thread while the session loop stays free.

A keyring read goes over D-Bus and may wait for an unlock prompt; the pinned-facts read may wait
for a database lock. Neither may hold up the loop, and ``stop`` must still cancel the awaiting
task at once: the thread is a daemon, and its late answer is discarded.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def run_off_loop(function: Callable[[], T], name: str) -> T:
    """Return ``function()`` computed on a daemon thread called ``name``.

    Raises:
        Exception: whatever ``function`` raised.
        asyncio.CancelledError: the awaiting task was cancelled (the thread runs on, unheard).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # the awaiting task was cancelled meanwhile
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def work() -> None:
        value: T | None = None
        error: BaseException | None = None
        try:
            value = function()
        except Exception as exc:
            error = exc
        try:
            loop.call_soon_threadsafe(deliver, value, error)
        except RuntimeError:
            pass  # the loop closed while the call was running

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future
