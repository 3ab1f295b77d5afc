"""Shared fixtures for Warren's integration tests.

Run with Debian's interpreter:  /usr/bin/python3 -m pytest tests/integration
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Let test modules import guestlib however pytest was started.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def repo_root():
    return REPO


@pytest.fixture(scope="session")
def build_dir():
    """The build tree whose binaries the tests exercise."""
    return Path(os.environ.get("WARREN_BUILD_DIR", str(REPO / "build" / "asan")))


@pytest.fixture(scope="session")
def guest_dir():
    """Directory holding the reference guest, built (or found current) once."""
    proc = subprocess.run(
        [str(REPO / "tools" / "mkguest")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"tools/mkguest failed ({proc.returncode}):\n{proc.stderr[-4000:]}",
                    pytrace=False)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        pytest.fail("tools/mkguest printed no output directory", pytrace=False)
    path = Path(lines[-1])
    for name in ("vmlinuz", "initrd.img", "kernel-version", "cmdline"):
        if not (path / name).is_file():
            pytest.fail(f"tools/mkguest output lacks {name}: {path}", pytrace=False)
    return path
