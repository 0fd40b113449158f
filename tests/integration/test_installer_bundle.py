"""The native packages: the PyInstaller one-folder bundle and the .deb built from it.

Builds the bundle once per module (PyInstaller's analysis cache is kept in pytest's cache dir so a
rerun with unchanged sources is faster), then runs the *frozen* program the way a user meets it:
``--version``, ``doctor --json`` against a real sound server, the offline engine answering a spoken
question (whisper, silero, piper and their native libraries all load from the bundle), and the
GUI on Qt's offscreen platform and on a real X server. Finally the .deb is built and inspected.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pytest

from app import __version__
from app.harness.procs import wait_until
from app.harness.pulse import PulseRig
from app.harness.speech import SpeechFixtures
from app.harness.xvfb import Xvfb
from app.local.tts import to_pcm24k
from tests.integration.local_engine_client import EngineClient, audio_of, transcript_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
DEV_ONLY = {
    "pytest",
    "_pytest",
    "hypothesis",
    "openai",
    "mypy",
    "ruff",
    "jiwer",
    "keyrings",
    "tests",
}
RUN_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Bundle:
    """A built bundle: its directory, executable and the build summary."""

    root: Path
    exe: Path
    summary: dict[str, object]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Bundle:
    assert pytestconfig.cache is not None
    work = pytestconfig.cache.mkdir("voxdesk-pyinstaller-work")
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "installer/build_bundle.py", "--dist", str(dist), "--work", str(work)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1100,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-5000:]
    summary = json.loads(build.stdout.strip().splitlines()[-1])
    print(f"bundle build: {summary}")  # shown with -s / -rA: build time and size
    return Bundle(Path(summary["bundle"]), Path(summary["executable"]), summary)


def bundle_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's isolated environment (conftest), offscreen unless ``extra`` says otherwise."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    env.update(extra or {})
    return env


class Lines:
    """Lines of a child's pipe, read on a thread so waits can have deadlines."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def drained(self) -> list[str]:
        """Every line received so far (for failure messages)."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return self.seen
            if line is not None:
                self.seen.append(line)

    def until(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """Return the first line for which ``predicate(line)`` is true; fail on EOF or timeout."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"timed out after {timeout}s; lines so far: {self.seen[-20:]}")
            if line is None:
                pytest.fail(f"stream closed; lines: {self.seen[-20:]}")
            self.seen.append(line)
            if predicate(line):
                return line


@dataclass
class Running:
    """A started bundle process with its output streams being read."""

    proc: subprocess.Popen[str]
    out: Lines
    err: Lines


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    """Start the bundle's executable with pipes; every process is stopped at teardown."""
    started: list[Running] = []

    def _start(exe: Path, *args: str, env: dict[str, str]) -> Running:
        proc = subprocess.Popen(
            [str(exe), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        running = Running(proc, Lines(proc.stdout), Lines(proc.stderr))
        started.append(running)
        return running

    yield _start
    for running in started:
        if running.proc.poll() is None:
            os.killpg(running.proc.pid, signal.SIGKILL)
        running.proc.wait(timeout=10)
        for lines in (running.out, running.err):
            lines.thread.join(timeout=10)  # the reader closes its pipe at EOF


def test_bundle_reports_version_and_leaves_out_dev_tools(bundle: Bundle) -> None:
    done = subprocess.run(
        [str(bundle.exe), "--version"],
        env=bundle_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"voxdesk {__version__}"

    from PyInstaller.archive.readers import CArchiveReader

    modules = set(CArchiveReader(str(bundle.exe)).open_embedded_archive("PYZ.pyz").toc)
    assert {"app.cli", "app.doctor", "app.local.serve", "ui.application"} <= modules
    assert {"pynput.keyboard._xorg", "pynput.keyboard._uinput"} <= modules  # picked at run time
    assert not {m for m in modules if m.split(".")[0] in DEV_ONLY}
    files = {p.name for p in (bundle.root / "_internal").iterdir()}
    assert not {f for f in files if f.split("-")[0].split(".")[0] in DEV_ONLY}
    assert (bundle.root / "_internal" / "resources" / "voxdesk.desktop").is_file()


def test_bundle_doctor_finds_every_part_inside_the_bundle(
    bundle: Bundle, pulse_rig: PulseRig
) -> None:
    done = subprocess.run(
        [str(bundle.exe), "doctor", "--json"],
        env=bundle_env(pulse_rig.client_env()),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    report = json.loads(done.stdout)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert done.returncode == 0 and report["ok"], failed
    by_name = {c["name"]: c for c in report["checks"]}
    internal = str(bundle.root / "_internal")
    for model in ("Whisper model", "Piper voice"):
        assert by_name[model]["detail"].startswith(internal), by_name[model]
    assert by_name["PortAudio"]["status"] == "ok"
    assert by_name["Microphone"]["status"] == "ok" and by_name["Speaker"]["status"] == "ok"


def test_bundle_engine_answers_a_spoken_question(
    bundle: Bundle, start: Callable[..., Running], speech: SpeechFixtures
) -> None:
    served = start(bundle.exe, "serve", "--port", "0", env=bundle_env())
    out, err = served.out, served.err
    url = out.until(lambda ln: ln.startswith("URL:"), RUN_TIMEOUT_S).split(None, 1)[1]
    token = out.until(lambda ln: ln.startswith("Token:"), RUN_TIMEOUT_S).split(None, 1)[1]
    # The default engines must load from the bundle, not fall back: whisper and piper.
    stt = err.until(lambda ln: ln.startswith(("[stt]", "[engine]")) and "loading" not in ln, 120)
    tts = err.until(lambda ln: ln.startswith(("[tts]", "[engine]")) and "loading" not in ln, 120)
    assert "whisper" in stt and stt.endswith("ready"), err.seen
    assert "piper" in tts and tts.endswith("ready"), err.seen
    assert not [ln for ln in err.seen if "error" in ln.lower()], err.seen

    samples, rate = speech.load(speech.say("What is twelve times seven?", voice="flite"))
    pcm = to_pcm24k(samples, rate)
    with EngineClient(url, token) as client:
        assert client.recv()["type"] == "session.created"
        client.ptt_session(
            audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
        )
        client.append_pcm(pcm)
        client.send({"type": "input_audio_buffer.commit"})
        heard = client.until("conversation.item.input_audio_transcription.completed")[-1]
        client.send({"type": "response.create"})
        events = client.until("response.done", timeout=120)
    assert "twelve" in heard["transcript"].lower() or "12" in heard["transcript"]
    assert "84" in transcript_of(events)
    voice = np.frombuffer(audio_of(events), dtype="<i2").astype(np.float32) / 32768.0
    assert voice.size > 24000 // 2  # at least half a second of speech at 24 kHz
    assert float(np.sqrt(np.mean(voice**2))) > 0.01  # audible, not silence


def run_gui_until_shown(start: Callable[..., Running], exe: Path, env: dict[str, str]) -> Running:
    """Start the GUI and wait until its window has been shown."""
    gui = start(exe, env={**env, "VOXDESK_STARTUP_MARK": "1"})
    gui.out.until(lambda ln: ln.startswith("VOXDESK_SHOWN"), RUN_TIMEOUT_S)
    return gui


def stop_gui(gui: Running) -> None:
    """Quit with SIGTERM, as a session manager does; the app must exit cleanly."""
    gui.proc.send_signal(signal.SIGTERM)
    assert gui.proc.wait(timeout=30) == 0, gui.err.drained()


def test_bundle_gui_shows_its_window_offscreen(
    bundle: Bundle, start: Callable[..., Running]
) -> None:
    gui = run_gui_until_shown(start, bundle.exe, bundle_env())
    stop_gui(gui)


def test_bundle_gui_draws_on_a_real_x_server(
    bundle: Bundle, start: Callable[..., Running], xvfb: Xvfb, tmp_path: Path
) -> None:
    env = {**bundle_env(), **xvfb.client_env(), "QT_QPA_PLATFORM": "xcb"}
    gui = run_gui_until_shown(start, bundle.exe, env)
    from PySide6.QtGui import QImage

    shots = iter(range(1000))

    def drawn() -> Path | None:
        # Mapping and painting lag the "shown" mark on X11: re-take until the window is there.
        shot = xvfb.screenshot(tmp_path / f"bundle-{next(shots)}.png")
        image = QImage(str(shot))
        colours = {
            image.pixel(x, y)
            for x in range(0, image.width(), 8)
            for y in range(0, image.height(), 8)
        }
        return shot if len(colours) > 8 else None

    wait_until(drawn, timeout=30, what="the bundle's window on the X screen", interval=0.2)
    stop_gui(gui)


def test_deb_has_the_layout_depends_and_a_valid_desktop_entry(
    bundle: Bundle, tmp_path: Path
) -> None:
    built = subprocess.run(
        ["installer/build_deb.sh", "--bundle", str(bundle.root), "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    deb = Path(built.stdout.strip().splitlines()[-1])
    assert deb.name == f"voxdesk_{__version__}_amd64.deb" and deb.is_file()

    def field(name: str) -> str:
        return subprocess.run(
            ["dpkg-deb", "--field", str(deb), name],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()

    depends = {d.strip().split(" ")[0] for d in field("Depends").split(",")}
    assert {"libportaudio2", "libspeexdsp1", "libgl1", "libegl1", "fontconfig"} <= depends
    assert "fonts-dejavu-core" in depends
    recommends = field("Recommends")
    assert "pulseaudio | pipewire-pulse" in recommends and "espeak-ng" in recommends
    assert field("Package") == "voxdesk" and field("Version") == __version__
    assert int(field("Installed-Size")) * 1024 >= int(float(str(bundle.summary["mib"])) * 2**20)

    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    owners = {line.split()[1] for line in listing}
    assert owners == {"root/root"}
    paths = {line.split()[5] for line in listing}
    for expected in (
        "./opt/voxdesk/voxdesk",
        "./usr/share/applications/voxdesk.desktop",
        "./usr/share/icons/hicolor/scalable/apps/voxdesk.svg",
        "./usr/share/icons/hicolor/256x256/apps/voxdesk.png",
        "./usr/share/doc/voxdesk/copyright",
    ):
        assert expected in paths, expected
    assert any(
        ln.split()[5:] == ["./usr/bin/voxdesk", "->", "/opt/voxdesk/voxdesk"] for ln in listing
    )

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], timeout=300, check=True)
    validate = shutil.which("desktop-file-validate")
    assert validate is not None, "apt-get install desktop-file-utils (installer/apt-test.txt)"
    checked = subprocess.run(
        [validate, str(root / "usr/share/applications/voxdesk.desktop")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "error" not in checked.stdout.lower(), checked.stdout
    unpacked = subprocess.run(
        [str(root / "opt/voxdesk/voxdesk"), "--version"],
        env=bundle_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert unpacked.stdout.strip() == f"voxdesk {__version__}", unpacked.stderr
