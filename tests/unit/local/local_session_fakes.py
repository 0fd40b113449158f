"""Fakes at the edges of the local engine's protocol session, for pure unit tests.

The session runs for real on an asyncio loop; only the engines are small fakes (an energy-based
VAD scorer, an instant recognizer that can be held, a silent voice).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from app.local.session import RealtimeSession

JSON = dict[str, Any]


class EnergyScorer:
    """Speech when the 16 kHz frame is loud: enough for segmentation tests."""

    window = 512

    def score(self, frame: np.ndarray) -> float:
        return 1.0 if float(np.abs(frame).mean()) > 0.05 else 0.0

    def reset(self) -> None:
        pass


class HeldRecognizer:
    """Answers ``text`` once ``release`` is set (set from the start unless ``held``)."""

    name = "fake stt"

    def __init__(self, text: str = "what time is it", held: bool = False) -> None:
        self.text = text
        self.release = threading.Event()
        if not held:
            self.release.set()

    def transcribe(self, pcm16: bytes) -> str:
        assert self.release.wait(10)
        return self.text


class SilentVoice:
    """10 ms of silence per sentence."""

    name = "fake tts"

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        yield b"\x00\x00" * 240


class ToneVoice:
    """``seconds`` of a quiet tone per sentence: long enough to be cut by a cancel."""

    name = "fake tone tts"

    def __init__(self, seconds: float = 3.0) -> None:
        self.seconds = seconds

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        n = int(24000 * self.seconds)
        yield (np.sin(np.arange(n) * 0.05) * 3000).astype("<i2").tobytes()


class FakeModels:
    def __init__(
        self, stt: HeldRecognizer | None = None, tts: SilentVoice | ToneVoice | None = None
    ) -> None:
        self.stt = stt or HeldRecognizer()
        self.tts = tts or SilentVoice()
        self.stt_executor = ThreadPoolExecutor(1)
        self.tts_executor = ThreadPoolExecutor(1)

    def describe(self) -> dict[str, str]:
        return {"vad": "energy", "stt": self.stt.name, "tts": self.tts.name}

    def new_scorer(self) -> EnergyScorer:
        return EnergyScorer()

    def close(self) -> None:
        self.stt.release.set()
        self.stt_executor.shutdown(wait=True)
        self.tts_executor.shutdown(wait=True)


class Client:
    """Feeds frames to one session and records what it sends back."""

    def __init__(
        self, models: FakeModels, timing_sink: Callable[[JSON], None] | None = None
    ) -> None:
        self.sent: list[JSON] = []
        self.yield_on_audio = False  # let other tasks run between audio deltas (a slow socket)
        self.watch: Callable[[JSON], None] | None = None  # sees each event as it is sent

        async def send(event: JSON) -> None:
            self.sent.append(event)
            if self.watch is not None:
                self.watch(event)
            if self.yield_on_audio and event["type"] == "response.output_audio.delta":
                await asyncio.sleep(0)

        self.session = RealtimeSession(
            send,
            models,  # type: ignore[arg-type]
            timing_sink=timing_sink,
        )

    async def send(self, event: JSON) -> None:
        await self.session.handle(json.dumps(event))

    def types(self) -> list[str]:
        return [e["type"] for e in self.sent]

    def of_type(self, kind: str) -> list[JSON]:
        return [e for e in self.sent if e["type"] == kind]

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)
        assert predicate(), what

    async def manual_turns(self, transcription: bool = False) -> None:
        audio: JSON = {"turn_detection": None}
        if transcription:
            audio["transcription"] = {"model": "whisper-1"}
        await self.send(
            {"type": "session.update", "session": {"type": "realtime", "audio": {"input": audio}}}
        )


def run(
    scenario: Callable[[Client], Any],
    stt: HeldRecognizer | None = None,
    tts: SilentVoice | ToneVoice | None = None,
    timing_sink: Callable[[JSON], None] | None = None,
) -> Client:
    models = FakeModels(stt, tts)
    client = Client(models, timing_sink)

    async def main() -> None:
        await client.session.start()
        try:
            await scenario(client)
        finally:
            await client.session.close()

    try:
        asyncio.run(main())
    finally:
        models.close()
    return client


def pcm(ms: int, loud: bool) -> str:
    samples = np.zeros(24 * ms, dtype="<i2")
    if loud:
        samples[:] = (np.sin(np.arange(samples.size) * 2 * np.pi * 220 / 24000) * 12000).astype(
            "<i2"
        )
    return base64.b64encode(samples.tobytes()).decode()
