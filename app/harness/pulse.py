"""PulseRig: a private PulseAudio daemon with a virtual speaker and a virtual microphone.

Layout (all null sinks have ``norewinds=1``; without it streams stall or drop data):

- ``speaker``: null sink, the default sink; ``speaker.monitor`` is what the user would hear.
- ``micfeed``: null sink that tests play WAV files into (``paplay``, never ``pacat``).
- ``mic``: ``module-remap-source`` of ``micfeed.monitor``, the default source (always clocked).

The daemon runs in the foreground as a child (root is fine), with its own HOME, XDG_RUNTIME_DIR,
PULSE_RUNTIME_PATH and unix socket, so it never meets another session's sound server.
PortAudio reads the ALSA configuration when it initialises, so ``activate()`` re-initialises it
after pointing ``PULSE_SERVER`` at this daemon.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from app.harness.procs import (
    HarnessError,
    ManagedProcess,
    private_env,
    run_checked,
    spawn,
    wait_until,
)
from app.harness.recorder import Recorder

log = logging.getLogger("app.harness")

_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; keep a margin.

_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=speaker rate={rate} channels=1 norewinds=1 \
sink_properties=device.description=VoxDeskSpeaker
load-module module-null-sink sink_name=micfeed rate={rate} channels=1 norewinds=1 \
sink_properties=device.description=VoxDeskMicFeed
load-module module-remap-source source_name=mic master=micfeed.monitor channels=1 \
source_properties=device.description=VoxDeskMic
set-default-sink speaker
set-default-source mic
"""


def reinit_portaudio() -> None:
    """Re-initialise PortAudio so it re-reads ALSA config and sees the current sound server."""
    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()


class PulseRig:
    """A private PulseAudio daemon; start it with ``PulseRig.start(base_dir)``.

    Attributes:
        base_dir: Directory holding the daemon's HOME, runtime dir, config and logs.
        rate: Sample rate of the null sinks and of recordings by default.
        socket: Path of the daemon's native-protocol unix socket.
        env: Variables a client (this process or a child) needs to reach this daemon.
    """

    def __init__(self, base_dir: Path, rate: int) -> None:
        self.base_dir = base_dir
        self.rate = rate
        run_dir = base_dir / "run"
        self._own_run_dir: Path | None = None
        if len(str(run_dir / "native")) > _SOCKET_PATH_MAX:
            self._own_run_dir = Path(tempfile.mkdtemp(prefix="vxpulse-"))
            run_dir = self._own_run_dir
        self.run_dir = run_dir
        self.socket = run_dir / "native"
        self.env: dict[str, str] = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_RUNTIME_PATH": str(run_dir),
        }
        self._config = base_dir / "voxdesk-ci.pa"
        self._log = base_dir / "pulseaudio.log"
        self._proc: ManagedProcess | None = None
        self._saved_env: dict[str, str | None] | None = None
        self._children: list[ManagedProcess] = []
        self._recorders: list[Recorder] = []

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def start(cls, base_dir: Path, rate: int = 48000) -> PulseRig:
        """Create the directories and config under ``base_dir`` and start the daemon.

        Args:
            base_dir: An empty or rig-owned directory (a pytest temp dir).
            rate: Sample rate of the null sinks.

        Returns:
            The running rig; the server answers ``pactl info`` when this returns.
        """
        base_dir.mkdir(parents=True, exist_ok=True)
        rig = cls(base_dir, rate)
        for sub in ("home", "xdg"):
            (base_dir / sub).mkdir(mode=0o700, exist_ok=True)
        rig.run_dir.mkdir(mode=0o700, exist_ok=True)
        rig._config.write_text(_CONFIG.format(socket=rig.socket, rate=rate))
        try:
            rig._launch()
        except BaseException:
            rig.stop()
            raise
        return rig

    def _daemon_env(self) -> dict[str, str]:
        return private_env(
            {
                "HOME": str(self.base_dir / "home"),
                "XDG_RUNTIME_DIR": str(self.base_dir / "xdg"),
                "XDG_CONFIG_HOME": str(self.base_dir / "home" / ".config"),
                "PULSE_RUNTIME_PATH": str(self.run_dir),
            }
        )

    def _launch(self) -> None:
        argv = [
            "pulseaudio",
            "-n",
            "-F",
            str(self._config),
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--log-target=stderr",
            "--disallow-exit",
        ]
        self._proc = spawn("pulseaudio", argv, env=self._daemon_env(), log_path=self._log)
        proc = self._proc
        wait_until(
            lambda: "Server Name" in self.pactl("info", timeout=2.0),
            timeout=15.0,
            what="PulseAudio to answer 'pactl info'",
            alive=proc.check_alive,
        )
        log.info("PulseAudio ready on %s (pid %d)", self.socket, proc.pid)

    @property
    def pid(self) -> int:
        """Process id of the daemon (raises if it is not running)."""
        if self._proc is None:
            raise HarnessError("PulseAudio is not running")
        return self._proc.pid

    def running(self) -> bool:
        """Return True while the daemon process is alive."""
        return self._proc is not None and self._proc.running()

    def kill(self) -> None:
        """SIGKILL the daemon, as a crash would; the socket path stays for ``restart()``."""
        if self._proc is not None:
            self._proc.kill()

    def restart(self) -> None:
        """Start the daemon again on the same socket path (after ``kill()`` or ``stop()``)."""
        if self._proc is not None and self._proc.running():
            self._proc.stop()
        # A SIGKILLed daemon leaves its socket behind; a stale one is not reusable.
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        self._launch()

    def stop(self) -> None:
        """Stop every child the rig started and the daemon; undo ``activate()``. Idempotent."""
        self.deactivate()
        for rec in self._recorders:
            rec.close()
        self._recorders.clear()
        for child in self._children:
            child.stop(timeout=2.0)
        self._children.clear()
        if self._proc is not None:
            self._proc.stop(timeout=5.0)
        if self._own_run_dir is not None:
            shutil.rmtree(self._own_run_dir, ignore_errors=True)

    def __enter__(self) -> PulseRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- environment
    def client_env(self) -> dict[str, str]:
        """Return a complete child environment (current env, desktop vars removed, plus ``env``)."""
        return private_env(self.env)

    def activate(self) -> None:
        """Put ``env`` into ``os.environ`` and re-initialise PortAudio to see this server."""
        if self._saved_env is None:
            self._saved_env = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        reinit_portaudio()

    def deactivate(self) -> None:
        """Restore the variables ``activate()`` replaced and re-initialise PortAudio."""
        if self._saved_env is None:
            return
        for key, old in self._saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        self._saved_env = None
        reinit_portaudio()

    # ------------------------------------------------------------------- commands
    def pactl(self, *args: str, timeout: float = 10.0) -> str:
        """Run ``pactl`` against this daemon and return its standard output."""
        return run_checked(["pactl", *args], env=self.client_env(), timeout=timeout)

    def play_into_mic(self, wav: Path, *, wait: bool = True) -> subprocess.Popen[bytes] | None:
        """Play a WAV file into ``micfeed`` (heard on the ``mic`` source) with ``paplay``.

        Args:
            wav: A WAV file (any rate/channels; the server converts).
            wait: Block until playback ends (deadline: file length + 10 s).

        Returns:
            None when ``wait`` is True, else the running ``paplay`` process (the rig stops it
            on ``stop()`` if it is still running).
        """
        return self.play(wav, sink="micfeed", wait=wait)

    def play(
        self, wav: Path, *, sink: str = "speaker", wait: bool = True
    ) -> subprocess.Popen[bytes] | None:
        """Play a WAV file into ``sink`` with ``paplay`` (see ``play_into_mic``)."""
        argv = ["paplay", f"--device={sink}", "--client-name=voxdesk-mouth", str(wav)]
        proc = spawn("paplay", argv, env=self.client_env(), log_path=self.base_dir / "paplay.log")
        if not wait:
            self._children.append(proc)
            return proc.popen
        try:
            proc.popen.wait(timeout=_wav_seconds(wav) + 10.0)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(f"paplay {wav.name} did not finish") from exc
        finally:
            proc.stop(timeout=1.0)
        if proc.popen.returncode != 0:
            raise HarnessError(f"paplay {wav.name} failed: {proc.log_tail()}")
        return None

    def record_monitor(self, source: str = "speaker.monitor", rate: int | None = None) -> Recorder:
        """Start recording ``source`` (float32 mono); see ``Recorder`` for the timestamps.

        Args:
            source: PulseAudio source, e.g. ``speaker.monitor``, ``micfeed.monitor``, ``mic``.
            rate: Recording rate; the rig's rate by default.

        Returns:
            The running recorder; the rig closes it on ``stop()`` if the caller did not.
        """
        rec = Recorder(
            source,
            rate=rate or self.rate,
            env=self.client_env(),
            log_path=self.base_dir / "parec.log",
        )
        self._recorders = [r for r in self._recorders if r.active()]
        self._recorders.append(rec)
        return rec

    def load_echo_loopback(self, latency_ms: int = 20, gain: float = 1.0) -> int:
        """Load ``module-loopback`` from ``speaker.monitor`` into ``micfeed`` (the acoustic echo).

        Args:
            latency_ms: Target loopback latency.
            gain: Linear gain of the echo path (applied as the loopback's sink-input volume).

        Returns:
            The module index, for ``unload_module``.
        """
        out = self.pactl(
            "load-module",
            "module-loopback",
            "source=speaker.monitor",
            "sink=micfeed",
            f"latency_msec={latency_ms}",
            "source_dont_move=true",
            "sink_dont_move=true",
        )
        idx = int(out.strip())
        if gain != 1.0:
            sink_input = wait_until(
                lambda: self._sink_input_of(idx),
                timeout=5.0,
                what=f"the sink input of loopback module {idx}",
            )
            volume = "0" if gain <= 0 else f"{20.0 * math.log10(gain):.3f}dB"
            self.pactl("set-sink-input-volume", str(sink_input), volume)
        return idx

    def _sink_input_of(self, module: int) -> int | None:
        current: int | None = None
        for line in self.pactl("list", "sink-inputs").splitlines():
            line = line.strip()
            if line.startswith("Sink Input #"):
                current = int(line.removeprefix("Sink Input #"))
            elif line.startswith("Owner Module:") and current is not None:
                if line.split(":", 1)[1].strip() == str(module):
                    return current
        return None

    def unload_module(self, idx: int) -> None:
        """Unload a module loaded with ``pactl load-module`` (e.g. the echo loopback)."""
        self.pactl("unload-module", str(idx))

    def __repr__(self) -> str:
        return f"PulseRig(socket={str(self.socket)!r}, running={self.running()})"


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
