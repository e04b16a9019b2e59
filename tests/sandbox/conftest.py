"""Fixtures of the sandbox tests: real bubblewrap, real cgroups, hostile programs.

Each hostile program lives in tests/fixtures/sandbox and is run as
`python /fixtures/<name>.py <marker> [args]`, so every process it starts
carries a unique marker in its command line that the tests look for on the host.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from grader.core.limits import Limits
from grader.sandbox import BubblewrapRunner, Mount, RunResult, RunSpec
from grader.sandbox.cgroup_layout import detect_layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sandbox"
FIXTURE_MOUNT = Mount(source=FIXTURES, target="/fixtures")
SHORT = Limits(
    wall_seconds=4,
    cpu_seconds=10,
    memory_bytes=512 * 1024**2,
    max_processes=64,
    output_bytes=64 * 1024,
    disk_bytes=32 * 1024**2,
)


def marker_processes(marker: str) -> list[psutil.Process]:
    """Return host processes whose command line contains `marker`."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def run_cgroup_dirs() -> set[Path]:
    """Return the cgroup dirs of this process's runs (run ids start with the worker pid).

    Other test sessions may run sandboxes at the same time; their dirs are not ours.
    """
    dirs: set[Path] = set()
    for own in detect_layout().own_dirs.values():
        parent = own / "grader"
        if parent.is_dir():
            dirs.update(p for p in parent.iterdir() if p.is_dir() and p.name.startswith(f"{os.getpid()}-"))
    return dirs


@dataclasses.dataclass
class Sandbox:
    """Runs fixture programs in a BubblewrapRunner and checks they leave nothing."""

    runner: BubblewrapRunner
    marker: str

    def run(self, fixture: str, *args: str, limits: Limits = SHORT, **spec_fields) -> tuple[RunResult, float]:
        """Run a fixture; return its result and how long run() took."""
        mounts = (FIXTURE_MOUNT, *spec_fields.pop("mounts", ()))
        argv = (sys.executable, f"/fixtures/{fixture}.py", self.marker, *args)
        driver = spec_fields.pop("driver", None)
        spec = RunSpec(argv=argv, mounts=mounts, limits=limits, **spec_fields)
        started = time.monotonic()
        result = self.runner.run(spec, driver)
        return result, time.monotonic() - started

    def limits(self, **overrides) -> Limits:
        """Return the tests' short limits with `overrides`."""
        return dataclasses.replace(SHORT, **overrides)

    def assert_nothing_left(self, cgroups_before: set[Path]) -> None:
        """No marked process on the host, no new cgroup dir."""
        assert marker_processes(self.marker) == []
        assert run_cgroup_dirs() <= cgroups_before


@pytest.fixture(scope="session")
def bwrap_runner() -> BubblewrapRunner:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    return BubblewrapRunner()


@pytest.fixture
def marker() -> str:
    return f"grader-test-{uuid.uuid4().hex}"


@pytest.fixture
def sandbox(bwrap_runner: BubblewrapRunner, marker: str) -> Iterator[Sandbox]:
    """A Sandbox that checks, after the test, that the run left nothing behind."""
    before = run_cgroup_dirs()
    box = Sandbox(bwrap_runner, marker)
    yield box
    box.assert_nothing_left(before)


@pytest.fixture
def fixtures_dir() -> Path:
    """The host folder of the hostile programs."""
    return FIXTURES


@pytest.fixture
def marked(marker: str) -> Callable[[], list[psutil.Process]]:
    """Return a function listing the host processes that carry this test's marker."""
    return lambda: marker_processes(marker)


@pytest.fixture
def kill_marked(marker: str) -> Iterator[Callable[[], None]]:
    """Kill any marked process left by a failing test, so one failure does not leak."""

    def kill() -> None:
        for proc in marker_processes(marker):
            proc.kill()

    yield kill
    kill()
