"""The composition root: builds the parts from settings, wires them, owns start and stop order.

``Core`` is what the GUI (through ``ui/bridge.py``), ``voxdesk talk`` and the end-to-end bench
drive. It never does the parts' work itself: it routes commands to the thread that owns the state
(the session loop for conversation commands, the audio engine for audio ones) and fans core events
out to observers.

Start order: local engine (when the provider is local) → audio engine → session. Stop order
(reverse, as ``conventions.md`` §3.4 prescribes): stop the uplink, stop the session (closes the
socket with a bounded handshake, joins its loop thread), stop the audio engine (stream, engine
thread), stop the local engine.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from app import paths
from app.audio.config import AudioConfig
from app.audio.engine import AudioEngine
from app.audio.pipeline import CapturePipeline
from app.audio.selftest import SelfTestResult
from app.audio.stream_backend import StreamBackend
from app.audio.telemetry import AudioTelemetry
from app.events import (
    AssistantState,
    AudioChunk,
    NoticeCategory,
    NoticeLevel,
    Observer,
    SpeechStarted,
    SpeechStopped,
    UserNotice,
)
from app.log import set_file_level
from app.metrics.latency import LatencyMeter, LatencySnapshot
from app.runtime.commands import Announce, ApplySettings, Reconnect, SetMicMuted, Shutdown
from app.runtime.configure import (
    Endpoint,
    audio_config,
    dsp_config,
    endpoint_for,
    session_config,
)
from app.runtime.probe import probe_connection
from app.secrets import SecretStore
from app.session.builtin_tools import TimerService, register_builtin_tools
from app.session.config import SessionConfig
from app.session.context import ContextPolicy
from app.session.driver import SessionDriver
from app.session.memory import Memory
from app.session.tools import ToolRegistry, ToolResult, ToolRunner
from app.session.transcript_store import TranscriptStore
from app.session.transcripts import Transcript
from app.settings.schema import REGISTRY
from app.settings.snapshot import Settings
from app.settings.store import SettingsStore
from app.skills import Timer

log = logging.getLogger("app.runtime")

# Settings whose change needs the part rebuilt rather than updated in place.
_AUDIO_KEYS = frozenset(
    {
        "audio.input_device",
        "audio.output_device",
        "audio.output_latency_ms",
        "audio.chunk_ms",
        "audio.playback_prebuffer_ms",
        "audio.playback_max_buffer_ms",
    }
)
_GIL_SWITCH_INTERVAL_S = 0.001
_BUSY_STATES = frozenset({AssistantState.ASSISTANT_SPEAKING, AssistantState.TOOL_RUNNING})
_PROVIDER_KEYS = frozenset({"session.provider", "session.url", "session.model"})


class Core:
    """Everything below the GUI, built and wired in one place.

    Args:
        store: the loaded settings.
        secrets: where API keys come from.
        audio_backend: the stream backend (tests pass ``FakeAudioBackend``); None = PortAudio.
        data_dir: where memory and transcripts are kept; None = the platform data dir.
        start_local_engine: builds and starts the embedded engine, returning ``(url, token,
            stop)``; None = the real ``LocalEngineServer``.

    Thread: ``start``/``stop`` from the owner thread; ``submit``, ``subscribe``, ``telemetry``,
    ``latency`` from any thread.
    """

    def __init__(
        self,
        store: SettingsStore,
        secrets: SecretStore,
        *,
        audio_backend: StreamBackend | None = None,
        data_dir: Path | None = None,
        start_local_engine: Callable[[Observer], tuple[str, str, Callable[[], None]]] | None = None,
    ) -> None:
        self.settings_store = store
        self.secrets = secrets
        self._audio_backend = audio_backend
        self._data_dir = data_dir
        self._start_local_engine = start_local_engine or _start_local_engine
        self._observers: list[Observer] = []
        self._observers_lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self.meter = LatencyMeter()
        self.memory: Memory | None = None
        self.transcript: Transcript | None = None
        self._transcript_store: TranscriptStore | None = None
        self.engine: AudioEngine | None = None
        self.driver: SessionDriver | None = None
        self._local_token: str | None = None
        self._local_stop: Callable[[], None] | None = None
        self._pipeline: CapturePipeline | None = None
        self._endpoint = Endpoint(provider="local")
        self._rates = (24_000, 24_000)  # (uplink, downlink) of the provider in use
        self._muted = False
        self._started = False
        self._unsubscribe: Callable[[], None] | None = None

    # ------------------------------------------------------------------ observers

    def subscribe(self, observer: Observer) -> None:
        """Receive every core event (called from any thread; must not block)."""
        with self._observers_lock:
            self._observers.append(observer)

    def publish(self, event: object) -> None:
        """Fan ``event`` out to every observer; a failing observer never stops the others."""
        with self._observers_lock:
            observers = tuple(self._observers)
        for observer in observers:
            try:
                observer(event)
            except Exception:
                log.exception("observer %r failed on %s", observer, type(event).__name__)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Build and start the local engine (if used), the audio engine and the session."""
        with self._lifecycle:
            if self._started:
                return
            self._started = True
            self._start()

    def _start(self) -> None:
        # The PortAudio callback needs the GIL within a few ms of its deadline; CPython's default
        # 5 ms switch interval lets a busy thread (DSP, websocket, GUI) hold it for a whole block.
        sys.setswitchinterval(_GIL_SWITCH_INTERVAL_S)
        settings = self.settings_store.current
        data_dir = self._data_dir or paths.data_dir()
        self.memory = Memory(data_dir / "memory.sqlite3")
        self._transcript_store = TranscriptStore(data_dir / "transcripts.sqlite3")
        self.transcript = Transcript(self._transcript_store, self.publish)
        endpoint = endpoint_for(settings)
        if endpoint.provider == "local":
            url, token, stop = self._start_local_engine(self.publish)
            self._local_token, self._local_stop = token, stop
            endpoint = Endpoint(provider="local", url=url)
        self._endpoint = endpoint
        config = session_config(settings, endpoint)
        self._rates = (config.input_rate(), config.sample_rate)
        audio = self._audio_config(settings)
        self._pipeline = CapturePipeline(
            dsp_config(settings), audio.device_rate, audio.session_in_rate, audio.chunk_ms
        )
        self.engine = AudioEngine(audio, self._pipeline, self._on_audio_event, self._audio_backend)
        self.driver = self._build_driver(config)
        self._unsubscribe = self.settings_store.subscribe(
            [setting.key for setting in REGISTRY], self._on_settings_changed
        )
        self.engine.start()
        self.driver.start()
        log.info("core started (provider %s, model %s)", config.provider, config.model)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop everything in order; safe to call twice, and while ``start`` is still running.

        A stop that arrives during ``start`` (the GUI quits while the core is starting on its own
        thread) waits for it, so nothing is left running behind the stop.
        """
        with self._lifecycle:
            if not self._started:
                return
            self._started = False
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        self._muted = True  # 1. no new audio reaches the session
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.driver is not None:  # 2-5. close the socket, stop and join the loop
            if not self.driver.stop(timeout):
                log.warning("the session loop did not stop within %.1f s", timeout)
        if self.engine is not None:  # 6-7. stream and engine thread
            self.engine.stop()
        if self._local_stop is not None:
            self._local_stop()
            self._local_stop = None
        if self.memory is not None:
            self.memory.close()
        if self._transcript_store is not None:
            self._transcript_store.close()
        log.info("core stopped")

    # ------------------------------------------------------------------ commands

    def submit(self, command: object) -> None:
        """Route a command (``app.runtime.commands``) to the part that owns its state."""
        if isinstance(command, SetMicMuted):
            self._muted = command.muted
            return
        if isinstance(command, ApplySettings):
            self._apply_settings(command.changes)
            return
        if isinstance(command, Shutdown):
            self.stop()
            return
        if isinstance(command, Reconnect):
            self._reconnect()
            return
        if self.driver is not None:
            self.driver.submit(command)

    def telemetry(self) -> AudioTelemetry | None:
        """The audio engine's latest levels and counters (None before it started)."""
        return self.engine.telemetry() if self.engine is not None else None

    def latency(self) -> LatencySnapshot:
        """The latency meter's rolling figures."""
        return self.meter.snapshot()

    def run_audio_self_test(self) -> SelfTestResult:
        """Play a test sweep, record the mic, estimate echo delay and attenuation.

        Thread: a worker thread (it blocks for about two seconds). Refused while the assistant
        is speaking, because the test writes the playback queue the session otherwise owns.

        Raises:
            RuntimeError: the audio engine is not running or the assistant is speaking.
            TimeoutError: the device delivered too little audio.
        """
        if self.engine is None:
            raise RuntimeError("The audio engine is not running.")
        if self.driver is not None and self.driver.state in _BUSY_STATES:
            raise RuntimeError("Wait until the assistant has finished speaking.")
        return self.engine.self_test()

    def play_test_tone(self) -> None:
        """Play a short test sweep on the speaker (the self-test's signal, without analysis).

        Thread: a worker thread; same restrictions as :meth:`run_audio_self_test`.
        """
        self.run_audio_self_test()

    def test_connection(self, provider: str, timeout: float = 10.0) -> str:
        """Open a realtime session with ``provider``'s key and close it again.

        Thread: a worker thread (blocks up to ``timeout``).

        Returns:
            A short confirmation for the user.

        Raises:
            ConnectionError: with a message saying what failed and what to do.
        """
        settings = self.settings_store.current.with_changes({"session.provider": provider})
        endpoint = endpoint_for(settings)
        if endpoint.provider == "local":
            endpoint = self._endpoint
        config = session_config(settings, endpoint)
        return probe_connection(config, self._auth_for(endpoint.provider)(), timeout)

    @property
    def muted(self) -> bool:
        """Whether the microphone uplink is muted."""
        return self._muted

    # ------------------------------------------------------------------ wiring

    def _on_audio_event(self, event: object) -> None:
        # Thread: audio-engine. Hand over to the session loop without blocking.
        if isinstance(event, AudioChunk | SpeechStarted | SpeechStopped) and self._muted:
            return
        if isinstance(event, UserNotice):
            self.publish(event)
            return
        if self.driver is not None:
            self.driver.submit(event)

    def _audio_config(self, settings: Settings) -> AudioConfig:
        return replace(
            audio_config(settings), session_in_rate=self._rates[0], session_out_rate=self._rates[1]
        )

    def _auth_for(self, provider: str) -> Callable[[], str | None]:
        def auth() -> str | None:
            if provider == "local":
                return self._local_token
            secret = self.secrets.get(provider)
            return secret.reveal() if secret is not None else None

        return auth

    def _build_tools(
        self, on_done: Callable[[ToolResult], None]
    ) -> tuple[ToolRunner, Sequence[Mapping[str, Any]]]:
        # Thread: session-loop (the driver builds its runner on the loop it runs on).
        registry = ToolRegistry()
        timers = TimerService(on_fire=self._on_timer_fired)
        register_builtin_tools(registry, timers=timers, memory=self.memory)
        return ToolRunner(registry, on_done, self.publish), registry.schemas()

    def _build_driver(self, config: SessionConfig) -> SessionDriver:
        assert self.engine is not None
        return SessionDriver(
            config,
            self.engine.player,
            self.publish,
            auth=self._auth_for(config.provider),
            tools=self._build_tools,
            transcript=self.transcript,
            context=ContextPolicy(self.settings_store.current.get_int("session.context_turns")),
            meter=self.meter,
            memory=self.memory,
        )

    def _reconnect(self) -> None:
        """Replace a session that gave up (bad key, quota) with a fresh one, same settings."""
        driver = self.driver
        if driver is None or driver.state is not AssistantState.FAILED:
            return
        driver.stop()
        self.driver = self._build_driver(
            session_config(self.settings_store.current, self._endpoint)
        )
        self.driver.start()

    def _on_timer_fired(self, timer: Timer) -> None:
        # Thread: session-loop. Shown at once, spoken as soon as the assistant is idle.
        said = timer.announcement()
        self.publish(UserNotice(NoticeLevel.INFO, NoticeCategory.GENERAL, said, None))
        if self.driver is not None:
            self.driver.submit(Announce(f"A timer the user set has finished. Tell them: {said}"))

    def _apply_settings(self, changes: Mapping[str, object]) -> None:
        try:
            self.settings_store.apply(changes)
        except Exception as exc:  # a SettingError names the key and the allowed values
            self.publish(UserNotice(NoticeLevel.ERROR, NoticeCategory.SETTINGS, str(exc), None))
            return
        self.settings_store.save()

    def _on_settings_changed(self, settings: Settings, changed: frozenset[str]) -> None:
        # Thread: whichever thread applied the settings (GUI or CLI); every call below is
        # thread-safe by contract (pipeline.reconfigure is picked up on the next block).
        if "log.level" in changed:
            set_file_level(settings.get_str("log.level"))
        if self._pipeline is not None and any(k.startswith("audio.") for k in changed):
            self._pipeline.reconfigure(dsp_config(settings))
        if self.engine is not None and changed & _AUDIO_KEYS:
            self.engine.restart_stream(self._audio_config(settings))
        if self.driver is None or not any(k.startswith("session.") for k in changed):
            return
        if changed & _PROVIDER_KEYS:
            self.publish(
                UserNotice(
                    NoticeLevel.INFO,
                    NoticeCategory.SETTINGS,
                    "The new provider and model are used after VoxDesk restarts.",
                    "restart",
                )
            )
            return
        self.driver.reconfigure(session_config(settings, self._endpoint))


def _start_local_engine(observer: Observer) -> tuple[str, str, Callable[[], None]]:
    from app.local.server import LocalEngineServer

    server = LocalEngineServer(observer=observer).start()
    return server.url, server.token, server.stop
