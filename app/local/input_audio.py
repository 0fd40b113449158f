"""The input audio buffer of a local engine session: append, VAD turns, commit, idle timeout.

``InputAudio`` is the part of :class:`app.local.session.RealtimeSession` that owns the appended
audio: server VAD decisions (scored off the event loop for long appends, so a 15 MiB append does
not stall other sessions), speculative transcription during the closing silence, commits, and
``idle_timeout_ms``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from app.local import events as ev
from app.local.config import TurnDetection
from app.local.conversation import BYTES_PER_MS, Conversation
from app.local.events import JSON, new_id
from app.local.models import EngineModels
from app.local.presynth import PendingSynthesis
from app.local.protocol_errors import ProtocolError, field_of
from app.local.response import ResponseRun, Send
from app.local.timing import now_ms
from app.local.transcribe import Transcriptions
from app.local.vad import ServerVad

MAX_APPEND_BYTES = 15 * 1024 * 1024
MAX_BUFFER_BYTES = 64 * 1024 * 1024
MIN_COMMIT_MS = 100
SPECULATE_AFTER_MS = 160  # start STT this far into the closing silence
KEEP_BEFORE_SPEECH_MS = 1000  # beyond the padding, kept for a speech start not yet confirmed
VAD_INLINE_BYTES = 48_000  # appends up to 1 s are scored on the loop; longer ones off it
IDLE_PROMPT = "Are you still there? I'm listening."


class InputAudio:
    """Input audio handling mixed into the session (state is the session's).

    Thread: the server's event loop only.
    """

    _send: Send
    config: JSON
    models: EngineModels
    conversation: Conversation
    transcriptions: Transcriptions
    buffer: bytearray
    buffer_start_ms: float
    active: ResponseRun | None
    _vad: ServerVad | None
    _vad_origin: float
    _speech_item: str | None
    _speech_start_ms: int
    _speculation: tuple[float, asyncio.Future[str]] | None
    _turn_end: float | None
    _speculated: bool
    _idle_from_ms: float | None
    _presynth: PendingSynthesis | None  # voicing the answer to the speculative transcript
    _turn_presynth: PendingSynthesis | None  # that, for the turn that just ended

    def _plan_answer(self, transcript: str) -> tuple[str, float] | None:
        """The first words the answer to ``transcript`` would speak, and their speed."""
        raise NotImplementedError

    async def _start_response(self, overrides: JSON, announce: str | None = None) -> None:
        raise NotImplementedError

    async def cancel_active(self, reason: str) -> None:
        """Cancel the active response (implemented by the session)."""
        raise NotImplementedError

    @property
    def session_ms(self) -> float:
        """Session milliseconds of input audio received so far."""
        return self.buffer_start_ms + len(self.buffer) / BYTES_PER_MS

    async def _append(self, event: JSON) -> None:
        audio = field_of(event, "audio", str)
        if len(audio) > MAX_APPEND_BYTES * 4 // 3 + 4:
            raise ProtocolError("Audio chunk exceeds 15 MiB.", "invalid_value", "audio")
        try:
            if len(audio) > VAD_INLINE_BYTES:  # megabytes of base64 take a while to decode
                pcm = await asyncio.to_thread(base64.b64decode, audio, validate=True)
            else:
                pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("Invalid base64 audio.", "invalid_value", "audio") from exc
        if len(self.buffer) + len(pcm) > MAX_BUFFER_BYTES:
            raise ProtocolError(
                "The input audio buffer is full; commit or clear it.", "invalid_value", "audio"
            )
        self.buffer.extend(pcm[: len(pcm) // 2 * 2])
        td = TurnDetection.from_session(self.config)
        if td is None:
            return
        if self._vad is None:
            self._vad = ServerVad(td, self.models.new_scorer())
            self._vad_origin = self.buffer_start_ms
            # audio that arrived before VAD existed is scored too, so timing stays exact
            pcm = bytes(self.buffer)
        vad = self._vad
        if len(pcm) > VAD_INLINE_BYTES:
            # Scoring minutes of audio takes seconds: off the loop, so other sessions go on.
            # This session's next frame waits, as the read loop awaits ``handle``.
            decisions = await asyncio.to_thread(vad.feed, pcm)
        else:
            decisions = vad.feed(pcm)
        if self._vad is not vad:
            return
        for decision in decisions:
            ms = int(decision.ms + self._vad_origin)
            if decision.kind == "started":
                await self._on_speech_started(ms, td)
            else:
                await self._on_speech_stopped(ms, td)
        if not self._vad.in_speech:
            # Outside speech only a coming start's padding can still be needed: hands-free
            # silence must not fill the buffer until appends are refused.
            self._drop_buffer_until(self.session_ms - td.prefix_padding_ms - KEEP_BEFORE_SPEECH_MS)
        if self._vad.silence_ms >= SPECULATE_AFTER_MS and self._speculation is None:
            self._speculate()
        elif self._vad.in_speech and self._vad.silence_ms == 0 and self._speculation is not None:
            self._drop_speculation()  # the user went on speaking
        await self._check_idle(td)

    async def _check_idle(self, td: TurnDetection) -> None:
        """Trigger a response when ``idle_timeout_ms`` of input passed without speech."""
        start = self._idle_from_ms
        if (
            td.idle_timeout_ms is None
            or start is None
            or self.active is not None
            or (self._vad is not None and self._vad.in_speech)
            or self.session_ms - start < td.idle_timeout_ms
        ):
            return
        self._idle_from_ms = None
        end = self.session_ms
        item_id = new_id("item")
        await self._send(ev.timeout_triggered(int(start), int(end), item_id))
        pcm = self._slice(start, end)
        self._drop_buffer_until(end)
        self._reset_vad()
        heard: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        heard.set_result("")  # the VAD heard no speech in it
        await self._commit_audio(item_id, pcm, heard)
        if td.create_response and self.active is None:
            await self._start_response({}, announce=IDLE_PROMPT)

    def _speculate(self) -> None:
        """Transcribe the turn, and voice the answer's start, while its silence is confirmed."""
        end_ms = self.session_ms
        pcm = self._slice(self._speech_start_ms, end_ms)
        transcript = self.transcriptions.speculate(pcm)
        self._speculation = (end_ms, transcript)
        if self._presynth is not None:
            self._presynth.drop()
        self._presynth = PendingSynthesis(
            transcript, self._plan_answer, lambda: self.models.tts, self.models.tts_executor
        )

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None
        if self._presynth is not None:
            self._presynth.drop()
            self._presynth = None

    def _slice(self, start_ms: float, end_ms: float) -> bytes:
        a = max(0, int((start_ms - self.buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        b = max(a, int((end_ms - self.buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        return bytes(self.buffer[a:b])

    async def _on_speech_started(self, start_ms: int, td: TurnDetection) -> None:
        self._speech_item = new_id("item")
        self._speech_start_ms = start_ms
        self._speculation = None
        if self._presynth is not None:
            self._presynth.drop()
            self._presynth = None
        self._idle_from_ms = None
        await self._send(ev.speech_started(start_ms, self._speech_item))
        if td.interrupt_response and self.active is not None:
            await self.cancel_active("turn_detected")

    async def _on_speech_stopped(self, end_ms: int, td: TurnDetection) -> None:
        item_id = self._speech_item or new_id("item")
        await self._send(ev.speech_stopped(end_ms, item_id))
        pcm = self._slice(self._speech_start_ms, end_ms)
        speculation = self._speculation
        self._speculation = None
        if self._turn_presynth is not None:
            self._turn_presynth.drop()
        self._turn_presynth, self._presynth = self._presynth, None
        self._turn_end = now_ms()
        self._speculated = speculation is not None
        self._drop_buffer_until(end_ms)
        self._speech_item = None
        await self._commit_audio(item_id, pcm, speculation[1] if speculation else None)
        if td.create_response and self.active is None:
            await self._start_response({})

    def _drop_buffer_until(self, ms: float) -> None:
        cut = max(0, int((ms - self.buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        del self.buffer[:cut]
        self.buffer_start_ms += cut / BYTES_PER_MS

    async def _commit_audio(
        self, item_id: str, pcm: bytes, speculation: asyncio.Future[str] | None = None
    ) -> None:
        item: JSON = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        previous = self.conversation.insert(item)
        self.conversation.track(item_id).pcm.extend(pcm)
        await self._send(ev.buffer_committed(item_id, previous))
        await self._send(ev.conversation_item_added(item, previous))
        await self._send(ev.conversation_item_done(item, previous))
        self.transcriptions.start(item_id, pcm, self._transcription_enabled(), speculation)

    def _transcription_enabled(self) -> bool:
        audio = self.config.get("audio") or {}
        return isinstance((audio.get("input") or {}).get("transcription"), dict)

    async def _commit(self, event: JSON) -> None:
        if len(self.buffer) < MIN_COMMIT_MS * BYTES_PER_MS:
            raise ProtocolError(
                f"Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{len(self.buffer) / BYTES_PER_MS:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
            )
        item_id = self._speech_item or new_id("item")
        self._turn_end, self._speculated = now_ms(), False
        pcm = bytes(self.buffer)
        self._drop_buffer_until(self.session_ms)
        self._reset_vad()
        await self._commit_audio(item_id, pcm)

    def _reset_vad(self) -> None:
        self._speech_item = None
        self._drop_speculation()
        if self._vad is not None:
            self._vad.force_stop()
            self._vad.set_floor()

    async def _clear(self, event: JSON) -> None:
        self._drop_buffer_until(self.session_ms)
        self._reset_vad()
        await self._send(ev.buffer_cleared())
