"""The worker container's shell commands, run for real on this machine.

The entry point runs a trial sandbox before it hands over to `grader worker`;
the compose health check pings a real Celery worker on real Redis.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.databases import migrated_database
from tests.redis_db import leased_redis_db

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint-worker.sh"
VENV_BIN = str(Path(sys.executable).parent)


def container_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment the worker image gives its entry point, with this machine's venv first on PATH."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "GRADER_RUN_DIR": str(tmp_path / "run"),
        "GRADER_CACHE_DIR": str(tmp_path / "cache"),
        "GRADER_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


@pytest.mark.sandbox
def test_the_entrypoint_checks_the_sandbox_then_runs_the_command(tmp_path):
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", "echo the worker starts"], env=container_env(tmp_path),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the worker starts\n"
    assert "sandbox check passed" in done.stderr
    assert (tmp_path / "run").is_dir() and (tmp_path / "cache").is_dir()


def test_the_entrypoint_stops_with_the_reason_when_the_sandbox_cannot_run(tmp_path):
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", "echo the worker starts"],
        env=container_env(tmp_path, GRADER_BWRAP="/nonexistent/bwrap"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert "the sandbox cannot run in this container: bubblewrap (bwrap) is not installed" in done.stderr
    assert "docker/README.md" in done.stderr


def healthcheck_command() -> str:
    """The worker health check of compose.yaml, as the container's shell receives it."""
    test = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]["gpu-worker"]["healthcheck"][
        "test"
    ]
    assert test[0] == "CMD-SHELL"
    return test[1].replace("$$", "$")  # compose's escape for a literal $


@pytest.fixture
def worker_env(tmp_path) -> Iterator[dict[str, str]]:
    with leased_redis_db() as redis_url, migrated_database("sqlite", tmp_path) as database_url:
        yield container_env(
            tmp_path, GRADER_BROKER_URL=redis_url, GRADER_DATABASE_URL=database_url,
            HOSTNAME=socket.gethostname(),  # Docker sets it in a container; the node is celery@<hostname>
        )  # fmt: skip


def ping(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", healthcheck_command()], env=env, capture_output=True, text=True, timeout=60)


def test_the_worker_health_check_answers_while_the_worker_lives(worker_env, tmp_path):
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen(
        [f"{VENV_BIN}/grader", "worker", "--loglevel=info"], cwd=ROOT, env=worker_env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while (answer := ping(worker_env)).returncode != 0:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, answer.stderr + (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
        log.close()

    gone = ping(worker_env)
    assert gone.returncode != 0
    assert "No nodes replied" in gone.stdout + gone.stderr
