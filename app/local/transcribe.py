"""Input transcription of one session: STT per committed user audio item, off the event loop.

Every committed audio item gets a transcript (the agent needs it even when the client did not ask
for transcription events); when the session enables ``audio.input.transcription``, the
``…input_audio_transcription.delta/completed/failed`` events are sent as well. A speculative
transcript started during the closing silence of a turn is reused when the turn really ends.
"""

from __future__ import annotations

import asyncio
import logging

from app.local import events as ev
from app.local.conversation import BYTES_PER_MS, Conversation, ConversationError
from app.local.models import EngineModels
from app.local.response import Send

log = logging.getLogger("app.local.stt")


class Transcriptions:
    """Pending and finished transcripts of one session. Thread: the event loop only."""

    def __init__(self, send: Send, models: EngineModels, conversation: Conversation) -> None:
        self._send = send
        self._models = models
        self._conversation = conversation
        self._pending: dict[str, asyncio.Task[None]] = {}

    def speculate(self, pcm: bytes) -> asyncio.Future[str]:
        """Start transcribing ``pcm`` now; the result may be used by :meth:`start` later."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(
            self._models.stt_executor, lambda: self._models.stt.transcribe(pcm)
        )

    def start(
        self,
        item_id: str,
        pcm: bytes,
        emit_events: bool,
        speculation: asyncio.Future[str] | None = None,
    ) -> None:
        """Transcribe ``pcm`` of ``item_id`` in the background."""
        task = asyncio.create_task(self._run(item_id, pcm, emit_events, speculation))
        self._pending[item_id] = task
        task.add_done_callback(lambda _t: self._pending.pop(item_id, None))

    async def _run(
        self, item_id: str, pcm: bytes, emit_events: bool, speculation: asyncio.Future[str] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            if speculation is not None:
                text = await speculation
            else:
                text = await loop.run_in_executor(
                    self._models.stt_executor, lambda: self._models.stt.transcribe(pcm)
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("transcription of %s failed: %s", item_id, exc)
            self._set_transcript(item_id, "")
            if emit_events:
                await self._send(ev.transcription_failed(item_id, 0, str(exc)[:200]))
            return
        self._set_transcript(item_id, text)
        if emit_events:
            if text:
                await self._send(ev.transcription_delta(item_id, 0, text))
            seconds = len(pcm) / BYTES_PER_MS / 1000
            await self._send(ev.transcription_completed(item_id, 0, text, seconds))

    def _set_transcript(self, item_id: str, text: str) -> None:
        try:
            item = self._conversation.get(item_id)
        except ConversationError:
            return  # deleted meanwhile
        for part in item.get("content") or []:
            if part.get("type") == "input_audio":
                part["transcript"] = text

    async def wait_all(self) -> None:
        """Wait until every pending transcript is known (a response needs them)."""
        while self._pending:
            # wait, not gather: a response cancelled while waiting must leave the transcripts be
            await asyncio.wait(list(self._pending.values()))

    def cancel_all(self) -> None:
        """Stop waiting for transcripts (the session is closing)."""
        for task in self._pending.values():
            task.cancel()
