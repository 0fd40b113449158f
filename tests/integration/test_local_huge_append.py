"""A 15 MiB append scored by the server VAD does not stall the other sessions of the server."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from app.local.models import EngineModels
from app.local.server import LocalEngineServer
from tests.integration.local_engine_client import EngineClient

# silero VAD is real; the recognizer and voice are the light ones (loaded, never used here)
pytestmark = pytest.mark.slow

APPEND_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[LocalEngineServer]:
    srv = LocalEngineServer(models=EngineModels(stt="sphinx", tts="espeak-ng")).start()
    assert srv.models.wait(60)
    yield srv
    srv.stop()


def ping(client: EngineClient) -> float:
    """Round trip of a ``session.update`` in seconds."""
    start = time.monotonic()
    client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "x"}})
    client.until("session.updated", timeout=30)
    return time.monotonic() - start


def test_huge_append_does_not_stall_another_session(server: LocalEngineServer) -> None:
    noise = np.random.default_rng(5).standard_normal(APPEND_BYTES // 2) * 200
    huge = base64.b64encode(noise.astype("<i2").tobytes()).decode()
    busy: dict[str, float] = {}
    done = threading.Event()
    with EngineClient(server.url, server.token) as a, EngineClient(server.url, server.token) as b:
        a.until("session.created")
        b.until("session.created")
        ping(b)  # warm

        def flood() -> None:
            try:
                started = time.monotonic()
                a.send({"type": "input_audio_buffer.append", "audio": huge})
                ping(a)  # answered once the append (its VAD scoring included) was handled
                busy["a"] = time.monotonic() - started
            finally:
                done.set()

        worker = threading.Thread(target=flood, name="flooding-client")
        worker.start()
        rtts = []
        while not done.is_set():
            rtts.append(ping(b))
        worker.join(30)
        assert "a" in busy, "the flooding session did not finish"
        # the server scored ~5 minutes of audio for A while B kept getting quick answers
        assert len(rtts) >= 3
        assert max(rtts) < busy["a"] / 3, (max(rtts), busy["a"])
        assert ping(a) < busy["a"] / 3  # and A itself is responsive again
