"""The stream watchdog: keeps a working device stream open and tells the user when it cannot.

It opens the stream, notices when it dies, stalls or faults, and reopens it (same device if it
is back, else the system default).

It owns the backend; the engine thread never touches the stream. A dying stream's ``close`` may
hang on a dead sound server, so it runs on a helper thread with a timeout and is abandoned if it
does not return; the callback ``generation`` is bumped first, so a straggling old callback
touches no ring.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.audio.callback import CallbackShared, DuplexCallback
from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.stream_backend import StreamBackend, StreamInfo
from app.audio.telemetry import EngineState
from app.events import NoticeCategory, NoticeLevel, UserNotice

log = logging.getLogger("app.audio")

RETRY_INTERVAL_S = 0.25  # between attempts to open a stream while none works
# While no device works the watchdog retries four times a second; the log says so once, then
# about once a minute, instead of flooding stderr and the log file.
OPEN_FAILURE_LOG_EVERY = 240


class StreamWatchdog:
    """Keeps one working stream open.

    Thread: ``open_first``/``start``/``stop``/``request_restart`` from the engine's owner thread;
    the loop runs on the ``audio-watchdog`` thread. ``state``, ``info``, ``restarts`` are plain
    attributes any thread may read.
    """

    def __init__(
        self,
        config: AudioConfig,
        backend: StreamBackend,
        shared: CallbackShared,
        clock: PaClock,
        notify: Callable[[UserNotice], None],
    ) -> None:
        self._config = config
        self._backend = backend
        self._shared = shared
        self._clock = clock
        self._notify = notify
        self.state = EngineState.STOPPED
        self.info: StreamInfo | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._thread: threading.Thread | None = None
        self._open = False
        self._seen_callbacks = 0
        self._seen_faults = 0
        self._last_progress = 0.0
        self._got_callback = False
        self._next_retry = 0.0
        self._open_failures = 0
        self._trouble_reported = False
        self._fallback_reported = False
        self._closer: threading.Thread | None = None  # a hung close still running, if any

    def open_first(self) -> bool:
        """Open the stream once, synchronously; on failure the loop keeps retrying."""
        if self._try_open():
            return True
        self.state = EngineState.FAILED
        self._report_trouble("could not open the audio device")
        return False

    def start(self) -> None:
        """Start the ``audio-watchdog`` thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="audio-watchdog", daemon=True)
        self._thread.start()

    def request_restart(self, config: AudioConfig | None = None) -> None:
        """Ask the loop to close and reopen the stream, optionally with new device settings.

        Args:
            config: replacement configuration; only device fields may differ (the rings were
                sized for the current rate and block).
        """
        if config is not None:
            self._config = config
            self._fallback_reported = False
        self._restart.set()

    def stop(self) -> None:
        """Stop the loop and close the stream (with the close timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._config.close_timeout_s + 2.0)
            self._thread = None
        self._close()
        self.state = EngineState.STOPPED

    def _run(self) -> None:
        period = self._config.watchdog_period_s
        while not self._stop.wait(period):
            try:
                self._check()
            except Exception:  # the watchdog must outlive any backend error
                log.exception("audio watchdog check failed")

    def _check(self) -> None:
        now = time.monotonic()
        if self._restart.is_set():
            self._restart.clear()
            self._recover("restart requested", notify=False)
            return
        if not self._open:
            if now >= self._next_retry:
                self._recover("no stream", notify=False)
            return
        callbacks, faults = self._shared.callbacks, self._shared.faults
        if callbacks != self._seen_callbacks:
            self._seen_callbacks, self._last_progress = callbacks, now
            if not self._got_callback:
                self._got_callback = True
                self._on_running()
        limit = self._config.stall_timeout_s if self._got_callback else self._config.startup_grace_s
        if not self._backend.is_alive():
            self._recover("the audio stream stopped")
        elif faults != self._seen_faults:
            self._seen_faults = faults
            self._recover("the audio callback failed")
        elif now - self._last_progress > limit:
            self._recover(f"no audio for {now - self._last_progress:.1f} s")

    def _on_running(self) -> None:
        self.state = EngineState.RUNNING
        if self._trouble_reported and self.info is not None:
            self._trouble_reported = False
            text = f"Audio is working again ({self.info.input_device} / {self.info.output_device})."
            if self.info.fell_back:
                text += " Your chosen device is missing, so the system default is used."
            self._notify(UserNotice(NoticeLevel.INFO, NoticeCategory.AUDIO_DEVICE, text))

    def _recover(self, reason: str, *, notify: bool = True) -> None:
        if notify:
            log.warning("audio stream lost: %s; reopening", reason)
            self._report_trouble(reason)
        self.state = EngineState.RECOVERING
        self._close()
        self.restarts += 1
        if self._try_open(rescan=True):
            return
        self._next_retry = time.monotonic() + RETRY_INTERVAL_S
        if self.state is not EngineState.FAILED:
            self.state = EngineState.FAILED

    def _report_trouble(self, reason: str) -> None:
        if self._trouble_reported:
            return
        self._trouble_reported = True
        text = f"The audio device stopped working ({reason}). Reconnecting…"
        self._notify(
            UserNotice(NoticeLevel.WARNING, NoticeCategory.AUDIO_DEVICE, text, "open_settings")
        )

    def _try_open(self, *, rescan: bool = False) -> bool:
        try:
            closing = self._closer is not None and self._closer.is_alive()
            if rescan and not closing:  # never re-initialise PortAudio under a hung close
                self._backend.rescan()
            self._shared.generation += 1  # callbacks of any older stream go quiet
            callback = DuplexCallback(self._shared, self._shared.generation)
            self.info = self._backend.open(self._config, callback)
        except Exception as exc:  # noqa: BLE001 - any backend failure means "retry later"
            self._open_failures += 1
            if self._open_failures % OPEN_FAILURE_LOG_EVERY == 1:
                log.warning(
                    "opening the audio stream failed (%d attempt(s) so far; retrying): %s",
                    self._open_failures,
                    exc,
                )
            else:
                log.debug("opening the audio stream failed again: %s", exc)
            self._open = False
            return False
        self._open_failures = 0
        self._clock.reset()
        self._clock.set_nominal_latency(self.info.input_latency_s, self.info.output_latency_s)
        if self.info.fell_back and not self._fallback_reported:
            self._fallback_reported = True
            text = (
                "Your chosen audio device is not connected; using the system default "
                f"({self.info.input_device} / {self.info.output_device})."
            )
            self._notify(
                UserNotice(NoticeLevel.WARNING, NoticeCategory.AUDIO_DEVICE, text, "open_settings")
            )
        self._open = True
        self._got_callback = False
        self._seen_callbacks = self._shared.callbacks
        self._seen_faults = self._shared.faults
        self._last_progress = time.monotonic()
        if self.state is not EngineState.RUNNING:
            self.state = EngineState.STARTING
        log.info(
            "audio stream open: in=%r out=%r (%s)",
            self.info.input_device,
            self.info.output_device,
            "duplex" if self.info.duplex else "two streams",
        )
        return True

    def _close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._shared.generation += 1  # the closing stream's callbacks stop touching the rings
        closer = threading.Thread(target=self._backend.close, name="audio-close", daemon=True)
        closer.start()
        closer.join(timeout=self._config.close_timeout_s)
        if closer.is_alive():
            self._closer = closer
            log.warning("closing the audio stream hung; abandoning it")
