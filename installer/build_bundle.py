"""Build VoxDesk as a PyInstaller one-folder, windowed bundle: ``<dist>/voxdesk/voxdesk``.

Usage (from the repository, with the project's virtualenv)::

    .venv/bin/python installer/build_bundle.py [--dist DIR] [--work DIR] [--clean]

``--work`` is PyInstaller's cache of analysis results; keeping it between builds makes a rebuild
with unchanged sources faster. The build runs offline: every model comes from an installed pip
package. The last line printed is a one-line JSON summary (bundle path, seconds, MiB, files) that
scripts and the installer test read.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "pyinstaller" / "voxdesk.spec"
BUILD_TIMEOUT_S = 1800.0
"""A build that takes longer than this is stuck (a normal one takes well under 5 minutes)."""


def bundle_stats(bundle: Path) -> tuple[int, int]:
    """Return (total bytes, number of files) of a bundle directory, not following symlinks."""
    total = files = 0
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            files += 1
    return total, files


def build(dist: Path, work: Path, *, clean: bool = False) -> dict[str, object]:
    """Run PyInstaller on the spec; return the summary. Raises ``RuntimeError`` when it fails."""
    if importlib.util.find_spec("PyInstaller") is None:
        raise RuntimeError(
            f"PyInstaller is not installed in {sys.executable}: "
            f"{sys.executable} -m pip install pyinstaller"
        )
    target = dist / "voxdesk"
    if clean:
        shutil.rmtree(work, ignore_errors=True)
    argv = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(SPEC),
    ]
    if clean:
        argv.insert(3, "--clean")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=env, timeout=BUILD_TIMEOUT_S, check=False)
    seconds = time.monotonic() - started
    executable = target / "voxdesk"
    if done.returncode != 0 or not executable.is_file():
        raise RuntimeError(f"PyInstaller failed (exit {done.returncode}); see its output above")
    size, files = bundle_stats(target)
    return {
        "bundle": str(target),
        "executable": str(executable),
        "seconds": round(seconds, 1),
        "mib": round(size / 2**20, 1),
        "files": files,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build, print the summary as the last line; exit 1 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output dir (./dist)")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build" / "pyinstaller", help="PyInstaller cache dir"
    )
    parser.add_argument("--clean", action="store_true", help="drop the cache and rebuild all")
    args = parser.parse_args(argv)
    try:
        summary = build(args.dist.resolve(), args.work.resolve(), clean=args.clean)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"build_bundle: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
