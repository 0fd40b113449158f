"""Speculative synthesis of an answer's first words during the user's closing silence.

When the speculative transcript of a turn is ready before the VAD confirms the end of the turn,
the session asks a throw-away copy of the agent what it would answer and synthesises the first
clause of that answer. The response then uses the audio only if its real first clause is the same
text at the same speed; otherwise it synthesises as usual. Nothing the speculation does is seen
by the client or changes the agent's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from app.local.tts import StopSignal, Synthesizer, synthesize_all

log = logging.getLogger("app.local.presynth")

Plan = Callable[[str], "tuple[str, float] | None"]  # transcript → (first piece, speed) or None


@dataclass(frozen=True, slots=True)
class Presynthesis:
    """Audio of ``text`` spoken at ``speed`` (pcm16 24 kHz chunks)."""

    text: str
    speed: float
    chunks: list[bytes]


class PendingSynthesis:
    """A speculative synthesis under way; ``drop`` it when the turn goes on or ends unused.

    Thread: the event loop only.
    """

    def __init__(
        self,
        transcript: asyncio.Future[str],
        plan: Plan,
        tts: Callable[[], Synthesizer],
        executor: Executor | None,
    ) -> None:
        self._stop = StopSignal()
        self._task = asyncio.create_task(self._run(transcript, plan, tts, executor))

    async def _run(
        self,
        transcript: asyncio.Future[str],
        plan: Plan,
        tts: Callable[[], Synthesizer],
        executor: Executor | None,
    ) -> Presynthesis | None:
        try:
            # shielded: this speculation ending must not cancel the transcript the turn reuses
            text = await asyncio.shield(transcript)
            planned = plan(text)
            if planned is None:
                return None
            piece, speed = planned
            voice = tts()
            chunks = await asyncio.get_running_loop().run_in_executor(
                executor, lambda: synthesize_all(voice, piece, speed, self._stop)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed guess costs nothing but the guess
            log.debug("speculative synthesis failed: %s", exc)
            return None
        return None if self._stop.is_set() else Presynthesis(piece, speed, chunks)

    async def result(self) -> Presynthesis | None:
        """The audio, once ready (None when there is none)."""
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():
                return None
            raise  # the caller itself was cancelled

    def drop(self) -> None:
        """Abandon it: the task ends and a synthesis in progress stops."""
        self._stop.set()
        self._task.cancel()
