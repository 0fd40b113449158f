"""installer/ensure-apt.sh: silent when nothing is missing; tells a non-root user the exact fix."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "installer" / "ensure-apt.sh"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the unprivileged user can read (pytest's own tmp_path is private to root)."""
    with tempfile.TemporaryDirectory(prefix="voxdesk-apt-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


def _run(list_file: Path, *, as_nobody: bool) -> subprocess.CompletedProcess[str]:
    argv = [str(SCRIPT), str(list_file)]
    if as_nobody:
        setpriv = shutil.which("setpriv")
        assert setpriv, "util-linux's setpriv is part of every Debian system"
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_nothing_missing_is_silent_and_succeeds(shared_dir: Path) -> None:
    packages = shared_dir / "packages.txt"
    packages.write_text("# comment line\ndpkg   # the package manager itself\n\n")
    packages.chmod(0o644)
    result = _run(packages, as_nobody=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_a_missing_package_prints_the_exact_sudo_line_for_a_non_root_user(
    shared_dir: Path,
) -> None:
    packages = shared_dir / "packages.txt"
    packages.write_text("dpkg\nvoxdesk-no-such-package-xyz\n")
    packages.chmod(0o644)
    result = _run(packages, as_nobody=True)
    assert result.returncode == 1
    assert (
        "sudo apt-get install -y --no-install-recommends voxdesk-no-such-package-xyz"
        in result.stderr
    )
    assert "dpkg" not in result.stderr.split("install -y --no-install-recommends", 1)[1]
