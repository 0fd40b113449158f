"""A scripted Gemini Live peer for ``ScriptedServer`` (a real WebSocket server on 127.0.0.1).

``GeminiScript`` is a small but strict BidiGenerateContent imitation: the first client frame must
be ``setup`` (nothing else is accepted before ``setupComplete``), every client frame must hold
exactly one message that validates against ``google-genai``'s ``LiveClientMessage`` (else it
closes with 1007, as the service does), audio must be ``audio/pcm;rate=16000``, and
``activityStart``/``activityEnd`` are only accepted with automatic detection disabled. It answers:

- with detection disabled, on ``activityEnd``;
- with server VAD, after ``turn_ms`` of user audio; audio during an answer (``barge_ms``) cuts
  it: ``interrupted`` then ``turnComplete`` (no ``generationComplete``);
- on ``clientContent`` with ``turnComplete`` and after every ``toolResponse``.

Answers are 24 kHz audio parts with ``outputTranscription`` chunks, then ``generationComplete``
and ``turnComplete``. Knobs script a tool call, its cancellation, ``goAway`` and auth failures.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from google.genai import types

from tests.helpers.scripted_server import Peer


@dataclass
class GeminiKnobs:
    """How ``GeminiScript`` answers."""

    chunks: int = 6
    chunk_ms: int = 100
    pace_s: float = 0.0
    transcript: str = "It is twelve o'clock and the weather is fine today."
    turn_ms: int = 300  # server VAD: user audio that makes a turn
    barge_ms: int = 200  # server VAD: user audio during an answer that interrupts it
    tool_call: tuple[str, dict[str, Any]] | None = None  # the first answer calls this tool
    go_away: str | None = None  # timeLeft sent on the first connection ...
    go_away_on_answer: bool = False  # ... after its first answer's first audio (else at setup)
    refuse_setup: tuple[int, str] | None = None  # close code and reason instead of setupComplete


@dataclass
class _Turn:
    user_bytes: int = 0
    answering: asyncio.Task[None] | None = None
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    answers: int = 0
    calls: int = 0


class GeminiScript:
    """Per-connection handler; every client frame of every connection is kept in order.

    Attributes:
        frames: ``(connection index, frame)`` for every client frame received.
        setups: the ``setup`` of each connection.
        invalid: client frames that failed validation (the test asserts this stays empty).
    """

    def __init__(self, knobs: GeminiKnobs | None = None) -> None:
        self.knobs = knobs or GeminiKnobs()
        self.frames: list[tuple[int, dict[str, Any]]] = []
        self.setups: list[dict[str, Any]] = []
        self.invalid: list[str] = []
        self.setup_at: dict[int, float] = {}
        self.closed_at: dict[int, float] = {}

    def labels(self, connection: int | None = None) -> list[str]:
        """Frame labels (``setup``, ``realtimeInput.audio``, ``toolResponse``…) in order."""
        out = []
        for index, frame in list(self.frames):
            if connection is None or index == connection:
                key = next(iter(frame))
                inner = frame[key]
                out.append(f"{key}.{next(iter(inner))}" if key == "realtimeInput" else key)
        return out

    def of(self, label: str) -> list[dict[str, Any]]:
        """Frames with ``label``."""
        return [
            f for (_, f), lab in zip(list(self.frames), self.labels(), strict=False) if lab == label
        ]

    async def __call__(self, peer: Peer) -> None:
        setup = await self._recv(peer)
        if setup is None or "setup" not in setup:
            await peer.close(1007, "setup must be the first message")
            return
        self.setups.append(setup["setup"])
        self.setup_at[peer.index] = time.monotonic()
        manual = bool(
            setup["setup"]
            .get("realtimeInputConfig", {})
            .get("automaticActivityDetection", {})
            .get("disabled")
        )
        if self.knobs.refuse_setup is not None:
            await peer.close(*self.knobs.refuse_setup)
            return
        await _send(peer, {"setupComplete": {}})
        await _send(peer, {"sessionResumptionUpdate": {"newHandle": f"handle-{peer.index}",
                                                       "resumable": True}})  # fmt: skip
        if self.knobs.go_away is not None and peer.index == 0 and not self.knobs.go_away_on_answer:
            await _send(peer, {"goAway": {"timeLeft": self.knobs.go_away}})
        turn = _Turn()
        activity = False
        while True:
            frame = await self._recv(peer)
            if frame is None:
                return
            if "setup" in frame:
                await peer.close(1007, "setup is only accepted first")
                return
            realtime = frame.get("realtimeInput", {})
            if "activityStart" in realtime or "activityEnd" in realtime:
                if not manual:
                    await peer.close(1007, "activity signals need detection disabled")
                    return
            if "activityStart" in realtime:
                activity = True
                await self._cut(peer, turn)  # START_OF_ACTIVITY_INTERRUPTS
            elif "activityEnd" in realtime:
                activity = False
                self._answer(peer, turn)
            elif "audio" in realtime:
                if realtime["audio"]["mimeType"] != "audio/pcm;rate=16000":
                    await peer.close(1007, "unsupported audio format")
                    return
                size = len(base64.b64decode(realtime["audio"]["data"]))
                if manual and not activity:
                    continue  # audio outside an activity is not part of a turn
                turn.user_bytes += size
                if not manual:
                    await self._server_vad(peer, turn)
            elif "clientContent" in frame:
                if turn.answering is not None:
                    await self._cut(peer, turn)  # any clientContent interrupts (2.5)
                if frame["clientContent"].get("turnComplete"):
                    self._answer(peer, turn)
            elif "toolResponse" in frame:
                self._answer(peer, turn)

    async def _recv(self, peer: Peer) -> dict[str, Any] | None:
        try:
            raw = await asyncio.wait_for(peer.ws.recv(), 3600)
        except (websockets.ConnectionClosed, TimeoutError):
            self.closed_at.setdefault(peer.index, time.monotonic())
            return None
        frame: dict[str, Any] = json.loads(raw)
        self.frames.append((peer.index, frame))
        if len(frame) != 1:
            self.invalid.append(f"not exactly one message: {sorted(frame)}")
        elif "setup" not in frame:
            try:
                types.LiveClientMessage.model_validate(frame)
            except ValueError as exc:
                self.invalid.append(str(exc)[:300])
        return frame

    async def _server_vad(self, peer: Peer, turn: _Turn) -> None:
        bytes_per_ms = 32  # 16 kHz PCM16
        if turn.answering is not None:
            if turn.user_bytes >= self.knobs.barge_ms * bytes_per_ms:
                await self._cut(peer, turn)
        elif turn.user_bytes >= self.knobs.turn_ms * bytes_per_ms:
            self._answer(peer, turn)

    def _answer(self, peer: Peer, turn: _Turn) -> None:
        if turn.answering is not None and not turn.answering.done():
            turn.cut.set()  # a tool call's turn waiting for its response ends here
        turn.user_bytes = 0
        turn.cut = asyncio.Event()
        turn.answers += 1
        turn.answering = asyncio.create_task(self._speak(peer, turn, turn.cut))

    async def _cut(self, peer: Peer, turn: _Turn) -> None:
        task, turn.answering = turn.answering, None
        turn.user_bytes = 0
        if task is None or task.done():
            return
        turn.cut.set()
        await task
        await _send(peer, {"serverContent": {"interrupted": True}})
        if turn.calls:
            await _send(peer, {"toolCallCancellation": {"ids": [f"fc_{turn.calls}"]}})
        await _send(peer, {"serverContent": {"turnComplete": True}})

    async def _speak(self, peer: Peer, turn: _Turn, cut: asyncio.Event) -> None:
        knobs = self.knobs
        await _send(peer, {"serverContent": {"inputTranscription": {"text": "what time is it"}}})
        if knobs.tool_call is not None and turn.answers == 1:
            turn.calls += 1
            name, args = knobs.tool_call
            call = {"id": f"fc_{turn.calls}", "name": name, "args": args}
            await _send(peer, {"toolCall": {"functionCalls": [call]}})
            await cut.wait()  # the model waits for the toolResponse (or is cut)
            return
        turn.calls = 0
        words = knobs.transcript.split(" ")
        per = max(1, len(words) // knobs.chunks)
        pcm = base64.b64encode(b"\x01\x00" * (24 * knobs.chunk_ms)).decode()
        for index in range(knobs.chunks):
            if cut.is_set():
                return
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": pcm}}
            await _send(peer, {"serverContent": {"modelTurn": {"parts": [part]}}})
            if index == 0 and knobs.go_away_on_answer and peer.index == 0:
                await _send(peer, {"goAway": {"timeLeft": knobs.go_away}})
            text = " ".join(words[index * per : (index + 1) * per])
            if text:
                await _send(peer, {"serverContent": {"outputTranscription": {"text": text + " "}}})
            if knobs.pace_s:
                try:
                    await asyncio.wait_for(cut.wait(), knobs.pace_s)
                except TimeoutError:
                    pass
        if cut.is_set():
            return
        await _send(peer, {"serverContent": {"generationComplete": True}})
        usage = {"promptTokenCount": 10, "responseTokenCount": 5, "totalTokenCount": 15}
        await _send(peer, {"serverContent": {"turnComplete": True}, "usageMetadata": usage})
        if turn.answering is asyncio.current_task():
            turn.answering = None


def _label(frame: dict[str, Any]) -> str:
    key = next(iter(frame))
    return f"{key}.{next(iter(frame[key]))}" if key == "realtimeInput" else key


async def _send(peer: Peer, frame: dict[str, Any]) -> None:
    """Send a server frame as a binary frame, as the service does."""
    await peer.ws.send(json.dumps(frame).encode())
