"""The contract between the audio engine and a stream backend: ``StreamBackend`` and ``StreamInfo``.

Implemented by ``SoundDeviceBackend`` (``app.audio.backend``, PortAudio) and ``FakeAudioBackend``
(``app.audio.fake_backend``, synthetic blocks for tests); both drive the same ``DuplexCallback``.

Thread: the engine's watchdog thread opens and closes streams; ``StreamInfo`` is immutable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.audio.callback import DuplexCallback
from app.audio.config import AudioConfig


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What an opened stream reports.

    Attributes:
        input_device: name of the input device in use.
        output_device: name of the output device in use.
        sample_rate: device rate.
        duplex: one full-duplex stream (False: separate input and output streams).
        input_latency_s: input latency PortAudio reports.
        output_latency_s: output latency PortAudio reports.
        fell_back: a configured device was missing, so the system default is used.
    """

    input_device: str
    output_device: str
    sample_rate: int
    duplex: bool
    input_latency_s: float
    output_latency_s: float
    fell_back: bool = False


class StreamBackend(Protocol):
    """Opens and closes the device stream(s) that drive a ``DuplexCallback``.

    Thread: the engine's watchdog thread only.
    """

    def open(self, config: AudioConfig, callback: DuplexCallback) -> StreamInfo:
        """Open and start the stream(s) on the configured devices (default as fallback)."""

    def close(self) -> None:
        """Stop and close the stream(s); may block on a dead server (callers use a timeout)."""

    def is_alive(self) -> bool:
        """False once the stream finished or was aborted by PortAudio."""

    def rescan(self) -> None:
        """Re-discover devices (after a sound-server restart or hot-plug); no stream is open."""

    def start_output(self) -> bool:
        """Start the on-demand output stream (bumping ``output_run``); False if not possible."""

    def abort_output(self) -> int | None:
        """Abort the on-demand output at once (queued device audio is dropped).

        Returns:
            The run that was aborted, or None when the output was not running.
        """

    def output_running(self) -> bool:
        """True while the output stream runs (always, unless ``output_on_demand``)."""
