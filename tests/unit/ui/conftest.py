"""Fixtures for the GUI tests: a recording core behind the real Bridge, real settings store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields

import pytest

from app.audio.telemetry import AudioTelemetry, EngineState
from app.metrics.latency import LatencyMeter
from app.secrets import SecretStore
from app.settings.store import SettingsStore
from tests.helpers.memory_keyring import MemoryKeyring


def telemetry_snapshot(**changes: object) -> AudioTelemetry:
    """A real ``AudioTelemetry`` as a running engine would report it."""
    values: dict[str, object] = {
        f.name: (0.0 if f.type in ("float", "float | None") else 0) for f in fields(AudioTelemetry)
    }
    values.update(
        state=EngineState.RUNNING,
        input_device="TestMic",
        output_device="TestSpeaker",
        input_rms_dbfs=-30.0,
        input_peak_dbfs=-20.0,
        output_rms_dbfs=-25.0,
        output_peak_dbfs=-15.0,
        vad_probability=0.8,
        echo_attenuation_db=32.0,
    )
    values.update(changes)
    return AudioTelemetry(**values)  # type: ignore[arg-type]


@dataclass
class RecordingCore:
    """The core's facade at its edge: records commands, lets tests publish events from threads.

    The settings store, secret store and latency meter are the real ones.
    """

    settings_store: SettingsStore = field(default_factory=lambda: SettingsStore(None))
    secrets: SecretStore | None = None
    meter: LatencyMeter = field(default_factory=LatencyMeter)
    levels: AudioTelemetry = field(default_factory=telemetry_snapshot)
    commands: list[object] = field(default_factory=list)
    observers: list[Callable[[object], None]] = field(default_factory=list)
    submit_threads: list[str] = field(default_factory=list)

    def submit(self, command: object) -> None:
        self.submit_threads.append(threading.current_thread().name)
        self.commands.append(command)

    def subscribe(self, observer: Callable[[object], None]) -> None:
        self.observers.append(observer)

    def telemetry(self) -> object:
        return self.levels

    def latency(self) -> object:
        return self.meter.snapshot()

    def publish(self, *events: object) -> None:
        """Deliver events from a core thread (as the session loop would)."""

        def run() -> None:
            for event in events:
                for observer in self.observers:
                    observer(event)

        thread = threading.Thread(target=run, name="session-loop")
        thread.start()
        thread.join(5)

    def of_type(self, kind: type) -> list[object]:
        return [c for c in self.commands if isinstance(c, kind)]


@pytest.fixture
def core() -> RecordingCore:
    return RecordingCore(secrets=SecretStore(service="voxdesk-test", backend=MemoryKeyring()))


@pytest.fixture
def bridge(qtbot, core: RecordingCore):  # type: ignore[no-untyped-def]
    from ui.bridge import Bridge

    b = Bridge(core)
    yield b
    b.deleteLater()


@pytest.fixture
def window(qtbot, bridge) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from ui.main_window import MainWindow

    w = MainWindow(bridge)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()
