"""``SoundDeviceBackend``: the real PortAudio stream(s) that drive the engine's ``DuplexCallback``.

One full-duplex ``sd.Stream`` when input and output share a device, else an input stream and an
output stream (on demand, started and aborted with the assistant's audio). The engine's watchdog
is the only caller of ``open`` and ``close``; ``close`` may hang on a dead sound server, so the
engine runs it with a timeout. The contract is ``app.audio.stream_backend``; the test double is
``app.audio.fake_backend``.

Thread: the engine's watchdog thread (``open``, ``close``, ``is_alive``, ``rescan``); the output
lane's thread (``start_output``, ``abort_output``, ``output_running``), ordered by a lock.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.audio.callback import DuplexCallback
from app.audio.config import AudioConfig
from app.audio.devices import DeviceChoice, choose_device, list_devices, reinitialize_portaudio
from app.audio.stream_backend import StreamInfo

log = logging.getLogger("app.audio")


class SoundDeviceBackend:
    """The real stream: one full-duplex ``sd.Stream`` (fixed block), or two when devices differ."""

    def __init__(self) -> None:
        self._streams: list[Any] = []
        self._finished = threading.Event()
        self._out: Any = None  # the on-demand output stream, if any
        self._callback: DuplexCallback | None = None
        self._lock = threading.Lock()  # orders output start/abort against open/close

    def open(self, config: AudioConfig, callback: DuplexCallback) -> StreamInfo:
        """Open and start the stream(s) (see ``StreamBackend.open``)."""
        import sounddevice as sd

        devices = list_devices()
        mic = choose_device(devices, config.input_device, "input")
        spk = choose_device(devices, config.output_device, "output")
        self._finished = threading.Event()  # per stream: a late finish of an old one is ignored
        common: dict[str, Any] = {
            "samplerate": config.device_rate,
            "blocksize": config.block_frames,
            "dtype": "float32",
            "latency": config.latency_s,
            "finished_callback": self._finished.set,
        }
        with self._lock:
            self._callback = callback
            if not config.split_streams:
                stream = sd.Stream(
                    device=(mic.index, spk.index), channels=(1, 1), callback=callback, **common
                )
                self._streams = [stream]
                latency = stream.latency
                in_lat, out_lat = float(latency[0]), float(latency[1])
            else:
                on_demand = config.output_on_demand
                out_stream = sd.OutputStream(
                    device=spk.index,
                    channels=1,
                    callback=callback.on_output,
                    # On demand: the first buffer holds the queued audio, not silence; an abort
                    # "finishes" the stream, which is no failure.
                    prime_output_buffers_using_stream_callback=on_demand,
                    **{**common, "finished_callback": None if on_demand else self._finished.set},
                )
                in_stream = sd.InputStream(
                    device=mic.index, channels=1, callback=callback.on_input, **common
                )
                self._streams = [in_stream] if on_demand else [out_stream, in_stream]
                self._out = out_stream if on_demand else None
                in_lat, out_lat = float(in_stream.latency), float(out_stream.latency)
            try:
                for stream in self._streams:
                    stream.start()
            except Exception:
                self._close_locked()
                raise
        return _info(config, mic, spk, in_lat, out_lat)

    def close(self) -> None:
        """Abort (drops queued output at once) and close every stream."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        streams, self._streams = self._streams, []
        if self._out is not None:
            streams.insert(0, self._out)
            self._out = None
        for stream in streams:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - closing a dead stream may fail; it is gone
                log.debug("closing stream failed: %s", exc)

    def is_alive(self) -> bool:
        """True while every always-on stream is active and none finished."""
        if not self._streams or self._finished.is_set():
            return False
        return all(bool(s.active) for s in self._streams)

    def start_output(self) -> bool:
        """Start the on-demand output stream (see ``StreamBackend.start_output``)."""
        with self._lock:
            out, cb = self._out, self._callback
            if out is None or cb is None or out.active:
                return False
            cb.shared.output_run += 1  # stored before the first callback of the run
            out.start()
            return True

    def abort_output(self) -> int | None:
        """Abort the on-demand output stream (see ``StreamBackend.abort_output``)."""
        with self._lock:
            out, cb = self._out, self._callback
            if out is None or cb is None or not out.active:
                return None
            out.abort()
            return cb.shared.output_run

    def output_running(self) -> bool:
        """True while the output runs (see ``StreamBackend.output_running``)."""
        out = self._out
        return bool(self._streams) and (out is None or bool(out.active))

    def rescan(self) -> None:
        """Re-initialise PortAudio so it sees the current devices."""
        reinitialize_portaudio()


def _info(
    config: AudioConfig, mic: DeviceChoice, spk: DeviceChoice, in_lat: float, out_lat: float
) -> StreamInfo:
    return StreamInfo(
        input_device=mic.name,
        output_device=spk.name,
        sample_rate=config.device_rate,
        duplex=not config.split_streams,
        input_latency_s=in_lat,
        output_latency_s=out_lat,
        fell_back=mic.fell_back or spk.fell_back,
    )
