"""The app under test, headless: the real ``Core`` on a private PulseAudio rig, plus its "ears".

``Rig`` starts the PulseAudio rig and two recorders on one monotonic clock: ``speaker``
(``speaker.monitor``, what the user hears) and ``mic`` (``micfeed.monitor``, what reaches the
microphone, echo included). ``HeadlessApp`` builds ``app.runtime.core.Core`` from in-memory
settings and points it either at a given realtime server (the scripted one) or at the embedded
local engine; it records the core's events for the trials.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.events import AssistantState, Observer, SessionStateChanged
from app.harness.procs import wait_until
from app.harness.pulse import PulseRig
from app.harness.recorder import Recorder
from app.metrics.latency import LatencyMeter

log = logging.getLogger("app.bench")

RIG_RATE = 48000

BASE_SETTINGS: dict[str, object] = {
    "session.turn_mode": "hands_free",
    "session.turn_detection": "server_vad",
    "session.input_transcription_model": "",
}


class RecordingMeter(LatencyMeter):
    """The app's real latency meter, also keeping every raw mark for the bench.

    The bench matches the app's turns to its own trials by the marks' times (not by turn order,
    which a stray VAD turn would shift) and splits totals into stages with them.
    """

    def __init__(self, window: int = 100) -> None:
        super().__init__(window)
        self._raw_lock = threading.Lock()
        self._raw: dict[str, dict[str, float]] = {}

    def mark(self, turn_id: str, name: str, t: float) -> None:
        """Record the mark for the bench (first one wins), then in the real meter."""
        with self._raw_lock:
            self._raw.setdefault(turn_id, {}).setdefault(name, t)
        super().mark(turn_id, name, t)

    def raw(self) -> dict[str, dict[str, float]]:
        """Turn id → mark name → monotonic seconds (a copy)."""
        with self._raw_lock:
            return {turn: dict(marks) for turn, marks in self._raw.items()}

    def turn_near(self, mark: str, t: float, within: float) -> MeterTurn | None:
        """The turn whose ``mark`` lies closest to monotonic ``t``, at most ``within`` s away.

        Its ``values`` are what the meter's snapshot reports for that turn (empty when the turn
        has left the meter's window or completed no segment).
        """
        best: tuple[float, str, dict[str, float]] | None = None
        for turn, marks in self.raw().items():
            at = marks.get(mark)
            if at is None or abs(at - t) > within:
                continue
            if best is None or abs(at - t) < best[0]:
                best = (abs(at - t), turn, marks)
        if best is None:
            return None
        values = {tl.turn_id: dict(tl.values) for tl in self.snapshot().turns}
        return MeterTurn(best[1], best[2], values.get(best[1], {}))

    def marks_between(self, mark: str, t0: float, t1: float) -> list[float]:
        """Times of every ``mark`` in ``[t0, t1)`` over all turns, sorted."""
        return sorted(
            at
            for marks in self.raw().values()
            if (at := marks.get(mark)) is not None and t0 <= at < t1
        )


@dataclass(frozen=True, slots=True)
class MeterTurn:
    """One turn as the app's meter saw it.

    Attributes:
        turn_id: the app's turn id.
        marks: mark name → monotonic seconds.
        values: segment key → ms, as the meter reports them.
    """

    turn_id: str
    marks: dict[str, float]
    values: dict[str, float]


class Rig:
    """A private PulseAudio rig with the speaker and mic-feed ears running.

    Args:
        work: scratch directory (the rig's runtime files).
    """

    def __init__(self, work: Path) -> None:
        self.pulse = PulseRig.start(work / "pulse", rate=RIG_RATE)
        self.speaker: Recorder | None = None
        self.mic: Recorder | None = None
        try:
            self.pulse.activate()
            self.speaker = self.pulse.record_monitor("speaker.monitor")
            self.mic = self.pulse.record_monitor("micfeed.monitor")
            self.speaker.wait_started(timeout=15.0)
            self.mic.wait_started(timeout=15.0)
        except BaseException:
            self.close()
            raise

    @property
    def ears(self) -> tuple[Recorder, Recorder]:
        """``(speaker, mic)`` recorders."""
        assert self.speaker is not None and self.mic is not None
        return self.speaker, self.mic

    def close(self) -> None:
        """Stop the ears and the daemon (idempotent)."""
        for rec in (self.speaker, self.mic):
            if rec is not None:
                rec.close()
        self.pulse.stop()


def wait_samples_until(rec: Recorder, t: float, timeout: float) -> None:
    """Block until ``rec`` holds the audio of monotonic time ``t``."""
    rec.wait_samples(max(0, rec.index_at(t)) + 1, timeout=timeout)


class HeadlessApp:
    """The real app core without a GUI, for one bench phase.

    Args:
        data_dir: where the core keeps memory and transcripts.
        settings: setting key → value applied over ``BASE_SETTINGS``.
        server: ``(url, token)`` of a realtime server to use as the "local engine", or None to
            start the real embedded engine.
    """

    def __init__(
        self,
        data_dir: Path,
        settings: Mapping[str, object] | None = None,
        server: tuple[str, str] | None = None,
    ) -> None:
        from app.runtime.core import Core
        from app.secrets import SecretStore
        from app.settings.store import SettingsStore

        store = SettingsStore(None)
        store.apply({**BASE_SETTINGS, **(settings or {})})
        self._lock = threading.Lock()
        self.events: list[tuple[float, object]] = []
        starter: Callable[[Observer], tuple[str, str, Callable[[], None]]] | None = None
        if server is not None:
            url, token = server

            def starter(_observer: Observer) -> tuple[str, str, Callable[[], None]]:
                return url, token, lambda: None

        data_dir.mkdir(parents=True, exist_ok=True)
        self.core = Core(store, SecretStore(), data_dir=data_dir, start_local_engine=starter)
        self.meter = RecordingMeter()
        self.core.meter = self.meter  # before start: the driver is built with the core's meter
        self.settings = store
        self.core.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        with self._lock:
            self.events.append((time.monotonic(), event))

    def start(self, timeout: float = 120.0) -> None:
        """Start the core and wait until the session listens."""
        self.core.start()
        self.wait_state(AssistantState.LISTENING, timeout, what="the session to connect")

    def stop(self) -> None:
        """Stop the core (bounded)."""
        self.core.stop()

    def submit(self, command: object) -> None:
        """Post a command to the core."""
        self.core.submit(command)

    @property
    def state(self) -> AssistantState:
        """The conversation state the GUI would show."""
        driver = self.core.driver
        return driver.state if driver is not None else AssistantState.DISCONNECTED

    def fine_state(self) -> str:
        """The session's internal state-machine state (diagnostics only; best effort)."""
        conv = getattr(self.core.driver, "conversation", None)
        return str(getattr(getattr(conv, "fsm", None), "value", "unknown"))

    def wait_state(self, state: AssistantState, timeout: float, what: str = "") -> None:
        """Block until the session is in ``state``."""
        wait_until(lambda: self.state is state, timeout=timeout, what=what or state.value)

    def states_since(self, t: float) -> list[tuple[float, AssistantState]]:
        """State changes published at or after monotonic ``t``."""
        with self._lock:
            return [
                (at, ev.state)
                for at, ev in self.events
                if at >= t and isinstance(ev, SessionStateChanged)
            ]

    def underruns(self) -> int:
        """The playback underrun counter the engine reports."""
        tel = self.core.telemetry()
        return int(tel.playback_underruns) if tel is not None else 0

    def meter_turns(self) -> dict[str, dict[str, float]]:
        """The latency meter's per-turn segment values (ms)."""
        snap = self.core.latency()
        return {t.turn_id: dict(t.values) for t in snap.turns}

    def meter_turn_near(self, mark: str, t: float, within: float) -> MeterTurn | None:
        """The app's turn whose ``mark`` is closest to ``t`` (see ``RecordingMeter``)."""
        return self.meter.turn_near(mark, t, within)

    def marks_between(self, mark: str, t0: float, t1: float) -> list[float]:
        """Times of every ``mark`` in ``[t0, t1)`` over all the app's turns."""
        return self.meter.marks_between(mark, t0, t1)
