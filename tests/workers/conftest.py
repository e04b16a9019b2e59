"""A real Celery worker process on real Redis (a leased database, flushed per test) and a migrated database.

Never eager mode: each test starts `grader worker` as its own process group,
so a test can SIGKILL it whole, sandboxed runs included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from grader.config import PROJECT_ROOT, load_settings
from grader.db import make_engine, make_sessions, transaction
from grader.models import Assignment, Role, State, Submission, User
from grader.services.queue import CeleryQueue
from grader.services.uploads import accept_upload
from grader.storage import BlobStore
from tests.databases import KINDS, migrated_database

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
GRADER = Path(sys.executable).parent / "grader"


@pytest.fixture(autouse=True)
def clean_redis(redis_url) -> Iterator[None]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield
    client.flushdb()


@pytest.fixture(params=KINDS)
def environ(request, tmp_path, cache_dir, redis_url) -> Iterator[dict[str, str]]:
    """GRADER_* settings of one test: its own database, data folder and Redis DB; short thresholds."""
    with migrated_database(request.param, tmp_path) as url:
        yield {
            "GRADER_DATABASE_URL": url,
            "GRADER_BROKER_URL": redis_url,
            "GRADER_DATA_DIR": str(tmp_path / "data"),
            "GRADER_CACHE_DIR": str(cache_dir),
            "GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"),
            "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
            "GRADER_HEARTBEAT_SECONDS": "1",
            "GRADER_STALE_AFTER_SECONDS": "5",
            "GRADER_SWEEP_SECONDS": "2",
            "GRADER_RETRY_SECONDS": "1",
            "GRADER_MAX_ATTEMPTS": "3",
        }


class Service:
    """The database, the blob store and the queue the web side would use, plus workers to start."""

    def __init__(self, environ: dict[str, str], tmp_path: Path):
        self.environ, self.tmp_path = environ, tmp_path
        self.settings = load_settings(environ)
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_sessions(self.engine)
        self.store = BlobStore(self.settings.data_dir / "blobs")
        self.queue = CeleryQueue(self.settings.broker_url)
        self.workers: list[subprocess.Popen] = []
        with transaction(self.sessions) as session:
            user = User(email="ada@example.org", role=Role.STUDENT, password_hash="x")
            session.add_all([user, Assignment(slug="quick-digits", title="Quick digits")])
            session.flush()
            self.user_id = user.id

    def upload(self, filename: str, data: bytes) -> int:
        return accept_upload(
            self.sessions, self.store, self.queue, user_id=self.user_id, assignment_slug="quick-digits",
            filename=filename, data=data, settings=self.settings,
        )  # fmt: skip

    def start_worker(self) -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{len(self.workers)}.log", "wb")
        env = {**os.environ, **self.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        process = subprocess.Popen(
            [str(GRADER), "worker", "--loglevel=info"], cwd=PROJECT_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker's whole process group: main process, slots and sandboxes."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("worker-*.log")))

    def row(self, submission_id: int) -> Submission:
        with self.sessions() as session:
            return session.get(Submission, submission_id)

    def wait_for(self, submission_id: int, done: Callable[[Submission], bool], timeout: float = 120) -> Submission:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.row(submission_id)
            if done(row):
                return row
            if self.workers and all(p.poll() is not None for p in self.workers):
                pytest.fail(f"every worker exited; logs:\n{self.logs()[-4000:]}")
            time.sleep(0.2)
        pytest.fail(f"submission {submission_id} is {self.row(submission_id).state}; logs:\n{self.logs()[-4000:]}")

    def wait_final(self, submission_id: int, timeout: float = 120) -> Submission:
        return self.wait_for(submission_id, lambda r: r.state.is_final, timeout)

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()  # a warm shutdown first, then no mercy
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.kill(process)
        self.engine.dispose()


@pytest.fixture
def service(environ, tmp_path) -> Iterator[Service]:
    svc = Service(environ, tmp_path)
    try:
        yield svc
    finally:
        svc.close()


def final_states(logs: str, submission_id: int) -> list[str]:
    """The final states the workers wrote for a submission, as their logs tell."""
    marker = f"submission {submission_id}: attempt "
    return [
        line.split(marker, 1)[1].split()[1]
        for line in logs.splitlines()
        if marker in line and line.rstrip().endswith(("scored", "failed", "error"))
    ]


__all__ = ["Service", "State", "final_states"]
