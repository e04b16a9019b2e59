"""Fixtures of the integration tests: the real grader, real bubblewrap, real training."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from grader.assignments import load_assignment
from grader.config import PROJECT_ROOT, load_settings
from grader.sandbox import PoolSettings, WarmRunner, make_runner
from grader.services.grading import GradingService

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
SUBMISSIONS = FIXTURES / "submissions"
SECRET = "s3cr3t-grader-test-value"


@pytest.fixture(scope="session")
def grader_environ(cache_dir) -> dict[str, str]:
    """GRADER_* settings for the tests: the session's shared cache (references built once), the fixture assignments."""
    return {
        "GRADER_CACHE_DIR": str(cache_dir),
        "GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"),
        "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
    }


@pytest.fixture(scope="session")
def service(grader_environ) -> GradingService:
    settings = load_settings(grader_environ)
    return GradingService(
        settings,
        make_runner(bwrap_path=settings.bwrap, cgroup_parent=settings.cgroup_parent, host_uid=settings.sandbox_uid),
    )


@contextlib.contextmanager
def warm_service(grader_environ: dict[str, str]) -> Iterator[GradingService]:
    """The grading service on warm pools, as a worker slot runs it (every pool, one sandbox each); closed after."""
    settings = load_settings(grader_environ)
    runner = make_runner(
        bwrap_path=settings.bwrap,
        cgroup_parent=settings.cgroup_parent,
        host_uid=settings.sandbox_uid,
        warm=PoolSettings(settings.warm_pools),
        warm_home=settings.run_dir / "warm",
    )
    assert isinstance(runner, WarmRunner)
    try:
        yield GradingService(settings, runner)
    finally:
        runner.close()


@pytest.fixture(scope="session")
def fixture_assignments(grader_environ):
    settings = load_settings(grader_environ)
    return _Loaded(settings)


class _Loaded(dict):
    """Fixture assignments by slug, each loaded (and validated) when a test first asks for it."""

    def __init__(self, settings):
        super().__init__()
        self.settings = settings

    def __missing__(self, slug: str):
        self[slug] = load_assignment(slug, self.settings)
        return self[slug]


def repository_state() -> str:
    """What git sees changed in the repository (tracked or untracked, not ignored)."""
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout


def leftover_processes(*markers: str) -> list[str]:
    """Processes of this test process's runs whose command line carries a marker.

    A run's cgroup is named after the worker's pid, so sandboxes that other
    test sessions on the same machine are running do not count.
    """
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if any(marker in cmdline for marker in markers) and (_in_our_run(process.pid) or "31337" in cmdline):
            found.append(f"{process.pid}: {cmdline[:120]}")
    return found


def _in_our_run(pid: int) -> bool:
    try:
        return f"/{os.getpid()}-" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:  # gone meanwhile
        return False
