"""The whole service as users meet it: real server processes, a real worker, real training.

A stack is gunicorn serving `grader.wsgi:app` on a free port and a `grader
worker` process on a leased Redis database, over a migrated SQLite or
PostgreSQL database loaded with `grader assignments sync`. It is shared by the
tests of a module (each test makes its own submissions), since starting it
costs seconds and a real grading costs more. A module names the fixture
assignments its tests grade in STACK_ASSIGNMENTS: the stack serves copies of
those only, so the worker builds (or reads from the session's cache) just the
references those gradings need, instead of training every fixture assignment's
while the tests wait behind it and being stopped mid-build at teardown.

Browser tests get Debian's Chromium as the `browser` fixture; tests/e2e/pages.py
holds their lighter site (gunicorn over a database they write directly).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from grader.config import PROJECT_ROOT
from grader.services.demo import stop_gracefully
from tests.databases import KINDS, migrated_database

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
REFERENCE = FIXTURES / "assignments" / "quick-digits" / "reference_torch.py"
BIN = Path(sys.executable).parent
GRADER = BIN / "grader"
STUDENT, PASSWORD = "grace@example.org", "correct horse battery"
FINAL = ("scored", "failed", "error")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def grader(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `grader` command as a user would."""
    return subprocess.run(
        [str(GRADER), *args], cwd=PROJECT_ROOT, env={**os.environ, **env}, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def fixture_environ(tmp: Path, cache_dir: Path, assignments: Path = FIXTURES / "assignments") -> dict[str, str]:
    """Settings every process of a test stack shares: its data folder, the fixture assignments."""
    return {
        "GRADER_DATA_DIR": str(tmp / "data"),
        "GRADER_CACHE_DIR": str(cache_dir),
        "GRADER_ASSIGNMENTS_DIR": str(assignments),
        "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
        "GRADER_HEARTBEAT_SECONDS": "1",
    }


def stack_assignments_folder(tmp: Path, slugs: Iterable[str] | None) -> Path:
    """A folder holding copies of these fixture assignments (all of them: None).

    References are cached by content, not by folder, so the copies share the
    session's reference cache with every other test.
    """
    if slugs is None:
        return FIXTURES / "assignments"
    folder = tmp / "assignments"
    for slug in slugs:
        shutil.copytree(FIXTURES / "assignments" / slug, folder / slug)
    return folder


def start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start a process in its own group, its output in `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL to the whole group."""
    stop_gracefully(process, grace)


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    """Wait for `/up` to answer 200; fail with the log if the process dies or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/up", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still loading the app
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not come up in {timeout} s:\n{log_path.read_text()[-3000:]}")


def api(token: str) -> requests.Session:
    """An HTTP session carrying an API token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def upload(url: str, token: str, path: Path = REFERENCE, slug: str = "quick-digits") -> int:
    """POST a file to the API; return the submission id."""
    response = api(token).post(
        f"{url}/api/v1/submissions", data={"assignment": slug}, files={"file": (path.name, path.read_bytes())},
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return response.json()["id"]


def wait_final(url: str, token: str, submission_id: int, logs: Path, timeout: float = 300) -> dict:
    """GET the submission until it is final; return it."""
    http = api(token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(f"{url}/api/v1/submissions/{submission_id}", timeout=10).json()
        if body["state"] in FINAL:
            return body
        time.sleep(0.5)
    pytest.fail(f"submission {submission_id} is still {body['state']}:\n{tail_logs(logs)}")


def tail_logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in sorted(folder.glob("*.log")))


@dataclasses.dataclass
class Stack:
    """A running service: its address, a student's token and password, its settings and logs."""

    url: str
    token: str
    env: dict[str, str]
    logs: Path


@pytest.fixture(scope="module", params=KINDS)
def stack(request, tmp_path_factory, redis_url, cache_dir) -> Iterator[Stack]:
    """gunicorn and a grader worker on a fresh database of the parameter's kind, with one student.

    It serves the module's STACK_ASSIGNMENTS (every fixture assignment if the module names none).
    """
    tmp = tmp_path_factory.mktemp(f"stack-{request.param}")
    assignments = stack_assignments_folder(tmp, getattr(request.module, "STACK_ASSIGNMENTS", None))
    redis.Redis.from_url(redis_url).flushdb()
    with migrated_database(request.param, tmp) as database_url:
        env = {
            **fixture_environ(tmp, cache_dir, assignments),
            "GRADER_DATABASE_URL": database_url,
            "GRADER_BROKER_URL": redis_url,
        }
        for args in (
            ("assignments", "sync"),
            ("users", "add", STUDENT, "--password", PASSWORD, "--name", "Grace Student"),
        ):
            done = grader(*args, env=env)
            assert done.returncode == 0, done.stderr + done.stdout
        token = grader("tokens", "create", STUDENT, env=env).stdout.strip().splitlines()[-1]
        port = free_port()
        web_log, worker_log = tmp / "web.log", tmp / "worker.log"
        web = start(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "grader.wsgi:app"], env, web_log
        )  # fmt: skip
        worker = start([str(GRADER), "worker", "--loglevel=info"], env, worker_log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, web, web_log)
            yield Stack(url=url, token=token, env=env, logs=tmp)
        finally:
            stop(worker)
            stop(web)
        redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (scripts/install.sh --test) for browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def banner_credentials(text: str) -> tuple[dict[str, tuple[str, str]], str]:
    """The demo banner's accounts ({email: (role, password)}) and API token."""
    accounts = {
        m.group(2): (m.group(1), m.group(3))
        for m in re.finditer(r"^\s+(instructor|ta|student)\s+(\S+@\S+)\s+(\S+)$", text, re.MULTILINE)
    }
    token = re.search(r"API token of \S+: (\S+)", text)
    return accounts, token.group(1) if token else ""
