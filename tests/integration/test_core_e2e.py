"""End to end through the real core: audio engine on a private PulseAudio, the embedded local
engine and the session driver, driven by push-to-talk through ``Core.submit``.

Push-to-talk (not server VAD) keeps the turn boundaries in the test's hands, so a slow machine
cannot split or merge turns; the driver, engine and local server are all real.
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.events import ConnectionChanged, ConnectionState, TranscriptLine
from app.runtime.commands import Interrupt, PushToTalkPressed, PushToTalkReleased
from app.runtime.core import Core
from app.secrets import SecretStore
from app.settings.store import SettingsStore
from tests.helpers.scripted_server import wait_until

pytestmark = pytest.mark.slow


class Events:
    """Thread-safe record of core events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[object] = []

    def __call__(self, event: object) -> None:
        with self.lock:
            self.items.append(event)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [e for e in self.items if isinstance(e, kind)]

    def connected(self) -> bool:
        states = [e.state for e in self.of(ConnectionChanged)]
        return bool(states) and states[-1] is ConnectionState.CONNECTED

    def assistant_lines(self) -> list[TranscriptLine]:
        return [e for e in self.of(TranscriptLine) if e.role == "assistant" and e.final]


@pytest.fixture
def core(pulse_rig: Any, tmp_path: Path) -> Iterator[tuple[Core, Events]]:
    store = SettingsStore(None)
    store.apply({"session.provider": "local", "session.turn_mode": "push_to_talk"})
    events = Events()
    app = Core(store, SecretStore(service="voxdesk-test"), data_dir=tmp_path)
    app.subscribe(events)
    app.start()
    try:
        wait_until(events.connected, 120, "connected to the local engine")
        yield app, events
    finally:
        app.stop()


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def ask(app: Core, rig: Any, wav: Path) -> None:
    """Hold the key, say ``wav`` into the microphone, release once it was all sent."""
    driver = app.driver
    assert driver is not None
    sent = driver.conversation.sent_audio
    app.submit(PushToTalkPressed())
    wait_until(lambda: sent.total_samples > 0, 10, "uplink started")
    start = sent.total_samples
    rig.play_into_mic(wav)
    need = start + int((wav_seconds(wav) + 0.3) * 24000)
    wait_until(lambda: sent.total_samples >= need, 10, "question sent")
    app.submit(PushToTalkReleased())


def test_spoken_question_gets_a_spoken_answer_and_transcript(
    core: tuple[Core, Events], pulse_rig: Any, speech: Any, monitor_recorder: Any
) -> None:
    app, events = core
    ask(app, pulse_rig, speech.say("what time is it"))
    wait_until(lambda: bool(events.assistant_lines()), 90, "assistant transcript")
    line = events.assistant_lines()[-1]
    assert line.text.strip()
    driver = app.driver
    assert driver is not None
    wait_until(lambda: driver.state.value == "listening", 60, "answer played")
    heard = monitor_recorder.snapshot()
    assert float(np.sqrt(np.mean(heard[-monitor_recorder.rate * 20 :] ** 2))) > 1e-3
    snap = app.latency()
    assert snap.segment("voice_to_voice").count >= 1


def test_barge_in_truncates_at_what_the_speaker_played(
    core: tuple[Core, Events], pulse_rig: Any, speech: Any, monitor_recorder: Any
) -> None:
    app, events = core
    driver = app.driver
    assert driver is not None and app.engine is not None
    player = app.engine.player
    received: dict[str, list[bytes]] = {}
    enqueue = player.enqueue

    def recording_enqueue(pcm: bytes, rate: int, rid: str, item_id: str, idx: int) -> None:
        received.setdefault(item_id, []).append(pcm)
        enqueue(pcm, rate, rid, item_id, idx)

    player.enqueue = recording_enqueue  # type: ignore[method-assign]
    ask(app, pulse_rig, speech.say("what is the date today and what time is it"))
    wait_until(lambda: bool(received), 90, "answer audio")
    item = next(iter(received))
    wait_until(lambda: player.played_ms(item) >= 700, 30, "part of the answer heard")
    epoch = player.state.flush_epoch
    app.submit(Interrupt())
    wait_until(
        lambda: any(p["type"] == "conversation.item.truncate" for _, p in driver.sent_log),
        10,
        "truncate sent",
    )
    truncate = next(p for _, p in driver.sent_log if p["type"] == "conversation.item.truncate")
    kinds = [p["type"] for _, p in driver.sent_log]
    assert truncate["item_id"] == item and player.state.flush_epoch > epoch  # flushed
    if "response.cancel" in kinds:  # only while the response was still being generated
        assert kinds.index("response.cancel") < kinds.index("conversation.item.truncate")
    wait_until(lambda: driver.state.value == "listening", 20, "cancelled")
    wait_until(
        lambda: (
            "silence" in driver.conversation.marks.marks.get(driver.conversation.marks.turn_id, {})
        ),
        10,
        "silence marked",
    )
    assert not driver.server_errors  # no cancel race, no truncate past the audio
    recording = monitor_recorder.snapshot()
    lo, hi = heard_bounds_ms(recording, monitor_recorder.rate, b"".join(received[item]))
    end = truncate["audio_end_ms"]
    assert lo - 20 <= end <= hi + 20, (lo, end, hi)


def heard_bounds_ms(recording: np.ndarray, rate: int, pcm24k: bytes) -> tuple[float, float]:
    """Where, in ms from the item's first sample, the monitor stopped playing the reference.

    The reference (24 kHz) is resampled to the monitor rate and aligned by cross-correlation.
    Returns ``(lo, hi)``: the end of the last 5 ms window that still matched the reference while
    it was loud, and the start of the first window after it where the reference is loud but the
    monitor is silent (they coincide unless the cut fell into a pause).
    """
    import soxr

    ref = np.frombuffer(pcm24k, dtype="<i2").astype(np.float32) / 32768.0
    ref = soxr.resample(ref, 24000, rate).astype(np.float32)
    rec = recording.astype(np.float32)
    probe = ref[: rate // 2]
    corr = np.correlate(rec, probe, mode="valid")
    start = int(np.argmax(np.abs(corr)))
    rec = rec[start : start + len(ref)]
    win = rate // 200
    n = min(len(rec), len(ref)) // win
    ref_e = np.sqrt(np.mean(ref[: n * win].reshape(n, win) ** 2, axis=1))
    rec_e = np.sqrt(np.mean(rec[: n * win].reshape(n, win) ** 2, axis=1))
    loud = ref_e > 0.01
    playing = rec_e > 0.25 * ref_e
    last = max(i for i in range(n) if loud[i] and playing[i])
    first_cut = next((i for i in range(last + 1, n) if loud[i] and not playing[i]), n)
    return (last + 1) * 5.0, first_cut * 5.0
