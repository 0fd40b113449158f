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
from pathlib import Path

from app.events import AssistantState, Observer, SessionStateChanged
from app.harness.procs import wait_until
from app.harness.pulse import PulseRig
from app.harness.recorder import Recorder

log = logging.getLogger("app.bench")

RIG_RATE = 48000

BASE_SETTINGS: dict[str, object] = {
    "session.turn_mode": "hands_free",
    "session.turn_detection": "server_vad",
    "session.input_transcription_model": "",
}


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
