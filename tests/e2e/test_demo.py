"""`grader demo`: the embedded default on one machine, as a newcomer runs it."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from tests.e2e.conftest import (
    GRADER,
    PROJECT_ROOT,
    api,
    banner_credentials,
    fixture_environ,
    free_port,
    upload,
    wait_final,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BANNER_END = "Press Ctrl-C to stop."


@dataclasses.dataclass
class Demo:
    process: subprocess.Popen
    url: str
    output: Path
    accounts: dict[str, tuple[str, str]]
    token: str

    def stderr(self) -> str:
        return self.output.with_suffix(".err").read_text()


def demo_environ(tmp: Path, cache_dir: Path) -> dict[str, str]:
    """This session's environment without database or broker settings: the demo's defaults apply."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_DATABASE_URL", "GRADER_BROKER_URL")}
    return {**env, **fixture_environ(tmp, cache_dir)}


def start_demo(tmp: Path, cache_dir: Path, *args: str, port: int | None = None) -> Demo:
    """Start `grader demo` and wait for its banner."""
    port = port or free_port()
    output = tmp / f"demo-{port}.out"
    with open(output, "wb") as out, open(output.with_suffix(".err"), "wb") as err:
        process = subprocess.Popen(
            [str(GRADER), "demo", "--port", str(port), *args], cwd=PROJECT_ROOT, env=demo_environ(tmp, cache_dir),
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
        )  # fmt: skip
    demo = Demo(process, f"http://127.0.0.1:{port}", output, {}, "")
    deadline = time.monotonic() + 120
    while BANNER_END not in output.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_demo(demo)
            pytest.fail(f"no banner from grader demo:\n{output.read_text()}\n{demo.stderr()}")
        time.sleep(0.3)
    demo.accounts, demo.token = banner_credentials(output.read_text())
    return demo


def stop_demo(demo: Demo) -> int:
    """SIGTERM the demo as a service manager would; kill its group if it does not end."""
    if demo.process.poll() is None:
        demo.process.send_signal(signal.SIGTERM)
        try:
            return demo.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.process.pid, signal.SIGKILL)
    return demo.process.wait(timeout=30)


def log_in(url: str, email: str, password: str) -> requests.Response:
    """Log in through the site's form, CSRF token included; return the answer (not followed)."""
    browser = requests.Session()
    form = browser.get(f"{url}/auth/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = {"email": email, "password": password, "csrf_token": csrf}
    answer = browser.post(f"{url}/auth/login", data=data, allow_redirects=False, timeout=10)
    answer.browser = browser  # type: ignore[attr-defined]
    return answer


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo(demo_dir, cache_dir):
    running = start_demo(demo_dir, cache_dir, "--grace", "5")
    yield running
    stop_demo(running)


def test_the_banner_prints_credentials_that_log_in(demo):
    roles = sorted(role for role, _ in demo.accounts.values())
    assert roles == ["instructor", "student", "student", "ta"], demo.output.read_text()
    for email, (_role, password) in demo.accounts.items():
        answer = log_in(demo.url, email, password)
        assert answer.status_code == 302 and answer.headers["Location"] == "/", email
    student = next(e for e, (role, _) in demo.accounts.items() if role == "student")
    home = log_in(demo.url, student, demo.accounts[student][1]).browser.get(f"{demo.url}/", timeout=10).text
    assert "Digits (quick, for tests)" in home and "Due " in home  # the demo gives a deadline a week out
    listed = re.findall(r"^    (\S+) +topic (\d) +(\w+) ", demo.output.read_text(), re.MULTILINE)
    assert ("quick-digits", "1", "classification") in listed  # the banner lists every assignment it serves
    assert log_in(demo.url, student, "not the password").status_code == 401


def test_concurrent_uploads_are_scored_through_the_sqlite_broker(demo, demo_dir):
    with ThreadPoolExecutor(3) as pool:
        ids = list(pool.map(lambda _: upload(demo.url, demo.token), range(3)))
    results = [wait_final(demo.url, demo.token, sid, demo_dir / "data", timeout=400) for sid in ids]
    assert [(r["state"], r["score"]) for r in results] == [("scored", 100)] * 3, demo.stderr()
    worker_log = (demo_dir / "data" / "demo-worker.log").read_text()
    assert f"transport:   sqla+sqlite:///{demo_dir / 'data' / 'broker.db'}" in worker_log
    assert "database is locked" not in worker_log + demo.stderr()


def test_sigterm_mid_run_stops_everything_and_a_restart_keeps_the_credentials(demo, demo_dir, cache_dir):
    sid = upload(demo.url, demo.token)
    http = api(demo.token)
    deadline = time.monotonic() + 120
    while http.get(f"{demo.url}/api/v1/submissions/{sid}", timeout=10).json()["state"] != "running":
        assert time.monotonic() < deadline, "the submission never started running"
        time.sleep(0.3)
    time.sleep(2)  # inside the sandbox by now
    family = psutil.Process(demo.process.pid).children(recursive=True)
    assert any("bwrap" in " ".join(p.cmdline()) for p in family if p.is_running()), [p.cmdline() for p in family]

    assert stop_demo(demo) == 0, demo.stderr()
    assert "grader demo: stopped" in demo.stderr()
    _, alive = psutil.wait_procs(family, timeout=15)
    assert alive == [], [(p.pid, p.cmdline()) for p in alive]

    again = start_demo(demo_dir, cache_dir)
    try:
        assert (again.accounts, again.token) == (demo.accounts, demo.token)
        student = next(e for e, (role, _) in again.accounts.items() if role == "student")
        assert log_in(again.url, student, again.accounts[student][1]).status_code == 302
    finally:
        assert stop_demo(again) == 0


def test_a_taken_port_is_refused_with_what_to_do(demo_dir, cache_dir):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(GRADER), "demo", "--port", str(port)], cwd=PROJECT_ROOT, env=demo_environ(demo_dir, cache_dir),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"grader demo --port {port + 1}" in done.stderr and "Traceback" not in done.stderr


def test_missing_bubblewrap_is_refused_with_what_to_do(tmp_path, cache_dir):
    env = {**demo_environ(tmp_path, cache_dir), "GRADER_BWRAP": "/nonexistent/bwrap"}
    done = subprocess.run(
        [str(GRADER), "demo", "--port", str(free_port())], cwd=PROJECT_ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot grade on this machine" in done.stderr and "bubblewrap" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # nothing was created
