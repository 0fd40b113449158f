"""SpeechFixtures: synthetic speech WAV files from espeak-ng, flite and festival, cached on disk.

Every clip is mono 16-bit PCM at the requested rate (resampled with ``sox``, no dither, so the
output is deterministic). The cache key hashes (text, voice, rate, the tool's version string,
this module's format version), so upgrading a synthesiser regenerates its clips. Writes are
atomic, so parallel runs may share one cache directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.harness.procs import HarnessError, private_env, run_checked
from app.harness.wavio import read_wav

log = logging.getLogger("app.harness")

VOICES = ("espeak", "flite", "festival")
CACHE_ENV = "VOXDESK_FIXTURE_CACHE"
_FORMAT_VERSION = 1
_VERSION_COMMANDS = {
    "espeak": ["espeak-ng", "--version"],
    "flite": ["flite", "--version"],
    "festival": ["festival", "--version"],
}


def default_cache_dir() -> Path:
    """Return ``$VOXDESK_FIXTURE_CACHE`` or ``~/.cache/voxdesk-fixtures``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "voxdesk-fixtures"


@functools.cache
def tool_version(voice: str) -> str:
    """Return the synthesiser's version string for ``voice`` (part of the cache key)."""
    if voice not in _VERSION_COMMANDS:
        raise ValueError(f"unknown voice {voice!r}; choose from {VOICES}")
    # flite prints its version but exits 1, so the exit code is not checked here.
    done = subprocess.run(
        _VERSION_COMMANDS[voice],
        env=private_env(),
        capture_output=True,
        timeout=30.0,
        check=False,
    )
    text = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
    if not text:
        raise HarnessError(f"{_VERSION_COMMANDS[voice][0]} printed no version")
    return text


class SpeechFixtures:
    """Generates and caches speech clips for tests and benchmarks.

    Attributes:
        cache_dir: Where clips are stored.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()

    def path_for(self, text: str, voice: str = "espeak", rate: int = 16000) -> Path:
        """Return the cache path of a clip (it may not exist yet)."""
        key = json.dumps([text, voice, rate, tool_version(voice), _FORMAT_VERSION])
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        return self.cache_dir / f"{voice}-{rate}-{digest}.wav"

    def say(self, text: str, voice: str = "espeak", rate: int = 16000) -> Path:
        """Return a mono 16-bit WAV of ``text`` spoken by ``voice`` at ``rate`` Hz (cached).

        Args:
            text: What to say (plain text).
            voice: One of ``VOICES``: espeak-ng ``en-us``, flite ``slt``, festival
                ``cmu_us_slt_arctic_hts``.
            rate: Output sample rate in Hz.

        Returns:
            Path of the cached WAV file.
        """
        if voice not in VOICES:
            raise ValueError(f"unknown voice {voice!r}; choose from {VOICES}")
        target = self.path_for(text, voice, rate)
        if target.exists():
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".gen-", dir=self.cache_dir))
        try:
            text_file = work / "text.txt"
            text_file.write_text(text + "\n", encoding="utf-8")
            raw = work / "raw.wav"
            run_checked(_synth_argv(voice, text_file, raw), env=private_env(), timeout=120.0)
            staged = work / "out.wav"
            run_checked(
                ["sox", "-D", str(raw), "-r", str(rate), "-c", "1", "-b", "16"]
                + ["-e", "signed-integer", str(staged)],
                env=private_env(),
                timeout=60.0,
            )
            os.replace(staged, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.debug("generated %s (%s, %d Hz)", target.name, voice, rate)
        return target

    @staticmethod
    def load(path: Path) -> tuple[npt.NDArray[np.float32], int]:
        """Read a clip as float32 mono; returns ``(samples, rate)``."""
        return read_wav(path)


def _synth_argv(voice: str, text_file: Path, out: Path) -> list[str]:
    if voice == "espeak":
        return ["espeak-ng", "-v", "en-us", "-f", str(text_file), "-w", str(out)]
    if voice == "flite":
        return ["flite", "-voice", "slt", "-f", str(text_file), "-o", str(out)]
    return [
        "text2wave",
        "-eval",
        "(voice_cmu_us_slt_arctic_hts)",
        "-o",
        str(out),
        str(text_file),
    ]
