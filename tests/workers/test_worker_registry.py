"""A real `grader worker` in the registry: it registers, is live on the staff page, shows its run, logs with the id."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from grader.db import transaction
from grader.models import Role, State, User, utcnow
from grader.services.accounts import create_user
from grader.services.queue import RecordingQueue
from grader.services.worker_registry import Liveness, list_workers
from grader.web import create_app
from tests.web.conftest import PASSWORD, AuthActions
from tests.workers.conftest import FIXTURES

PARTIAL = (FIXTURES / "submissions" / "partial_credit.py").read_bytes()
SLOW = PARTIAL.replace(  # sleeps in train long enough to be seen running, then trains like partial_credit
    b"def train(model, x_train, y_train):\n",
    b"def train(model, x_train, y_train):\n    import time\n    time.sleep(6)\n",
)


def registry(service) -> dict:
    with service.sessions() as session:
        window = dt.timedelta(seconds=service.settings.stale_after_seconds)
        return {w.pid: w for w in list_workers(session, utcnow(), window)}


def wait_until(what, check, timeout: float, service):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"{what} did not happen in {timeout} s; logs:\n{service.logs()[-4000:]}")


def torch_ready(worker) -> dict | None:
    """The worker's one slot's pools, once they show the one cold run done and a ready torch sandbox."""
    slots = list(worker.pools.values())
    if len(slots) == 1 and slots[0]["runs"] == {"warm": 0, "cold": 1} and slots[0]["pools"]["torch"]["ready"] == 1:
        return slots[0]
    return None


def staff_page_data(service) -> dict:
    """What a TA sees at /staff/workers.json, through the real app on the same database and broker."""
    app = create_app(service.settings, queue=RecordingQueue(), test_config={"TESTING": True})
    try:
        with transaction(app.extensions["grader.sessions"]) as session:
            if not session.query(User).filter_by(email="ta@example.org").first():
                create_user(session, email="ta@example.org", role=Role.TA, password=PASSWORD)
        client = app.test_client()
        AuthActions(client).login("ta@example.org")
        page = client.get("/staff/workers")
        assert page.status_code == 200
        return {"json": client.get("/staff/workers.json").get_json(), "html": page.get_data(as_text=True)}
    finally:
        app.extensions["grader.engine"].dispose()


def test_a_worker_registers_shows_its_run_and_logs_with_the_submission_id(service):
    service.environ["GRADER_LOG_FORMAT"] = "json"
    process = service.start_worker()
    worker = wait_until("registration", lambda: registry(service).get(process.pid), 60, service)
    assert (worker.state, worker.queues, worker.gpus, worker.slots) == (Liveness.LIVE, ["cpu", "rerun"], [], 1)
    data = staff_page_data(service)
    listed = [w for w in data["json"]["workers"] if w["pid"] == process.pid]
    assert listed and listed[0]["state"] == "live" and listed[0]["runs"] == []
    assert data["json"]["broker_error"] is None and set(data["json"]["queues"]) == {"gpu", "cpu", "rerun"}
    assert "CPU only" in data["html"]

    sid = service.upload("slow.py", SLOW)
    service.wait_for(sid, lambda r: r.state is State.RUNNING, 60)
    runs = wait_until("the run on the page", lambda: registry(service)[process.pid].runs, 15, service)
    assert [run.submission_id for run in runs] == [sid]
    page = staff_page_data(service)
    assert [r["submission_id"] for w in page["json"]["workers"] if w["pid"] == process.pid for r in w["runs"]] == [sid]
    assert f'href="/submissions/{sid}"' in page["html"]

    row = service.wait_final(sid, timeout=150)
    assert row.state is State.SCORED
    assert wait_until("the run to leave the page", lambda: not registry(service)[process.pid].runs or None, 10, service)
    # The slot's warm pools: that first torch run was cold, and filled the torch pool for the next one
    pools = wait_until("a ready torch sandbox", lambda: torch_ready(registry(service)[process.pid]), 60, service)
    assert pools["last"]["warm"] is False
    assert "torch: 1/1 ready" in staff_page_data(service)["html"]

    process.terminate()  # a warm shutdown: the worker says it stopped
    process.wait(timeout=30)
    assert registry(service)[process.pid].state is Liveness.STOPPED

    records = [json.loads(line) for line in service.logs().splitlines() if line.startswith("{")]
    about = [r for r in records if r["message"].startswith(f"submission {sid}:")]
    assert {r["message"].split(": ", 1)[1].split()[-1] for r in about} >= {"started", "scored"}
    assert about and all(r["submission_id"] == sid for r in about), about
    assert any(r["message"].startswith("registered as") and r["submission_id"] is None for r in records)
