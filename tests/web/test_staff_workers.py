"""The staff page of workers: who serves which queues on which GPUs, what each grades now, the queue lengths."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import socket

from grader.db import transaction
from grader.gpu import Gpu
from grader.models import Role, State, utcnow
from grader.services import worker_registry
from grader.services.queue import CeleryQueue, RecordingQueue
from grader.services.worker_registry import WorkerSpec
from grader.web import create_app
from tests.web.conftest import AuthActions
from tests.web.helpers import add_submission

A100 = Gpu(index=0, name="NVIDIA A100-SXM4-40GB", uuid="GPU-1", minor=0, memory_total_bytes=40 * 1024**3)


def register(app, spec: WorkerSpec, seen_ago: float = 0.0, slot_pids: tuple[int, ...] = ()) -> None:
    seen = utcnow() - dt.timedelta(seconds=seen_ago)
    with transaction(app.extensions["grader.sessions"]) as session:
        worker_registry.register_worker(session, spec, seen)
        worker_registry.beat(session, spec.name, slot_pids, seen)


def row_of(page: str, name: str) -> str:
    match = re.search(rf'<tr data-worker="{re.escape(name)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(1)


def test_staff_see_each_worker_its_gpus_state_and_current_run_and_the_queue_lengths(
    app, client, auth, accounts, settings
):
    accounts.add("ta@example.org", Role.TA)
    student = accounts.add("ada@example.org")
    register(app, WorkerSpec("gpu-box:100", "celery@gpu-box", "gpu-box", 100, ["gpu", "cpu", "rerun"], 1, [A100]),
             slot_pids=(101,))  # fmt: skip
    register(app, WorkerSpec("cpu-box:200", "celery@cpu-box", "cpu-box", 200, ["cpu", "rerun"], 1, []), seen_ago=600)
    running = add_submission(app, student, State.RUNNING, worker="gpu-box:101", started_at=utcnow(),
                             progress={"phase": "train", "epoch": 2, "epochs": 5})  # fmt: skip
    add_submission(app, student, State.RUNNING, worker="elsewhere:7", started_at=utcnow())  # not these workers'
    producer = CeleryQueue(settings.broker_url)  # the embedded broker: kombu's SQLAlchemy transport
    for sid in (running + 10, running + 11):
        producer.enqueue(sid)
    producer.enqueue(running + 12, rerun=True)

    auth.login("ta@example.org")
    response = client.get("/staff/workers")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    gpu_row, cpu_row = row_of(page, "gpu-box:100"), row_of(page, "cpu-box:200")
    assert "gpu, cpu, rerun" in gpu_row and "NVIDIA A100-SXM4-40GB (40.0 GiB)" in gpu_row and ">live<" in gpu_row
    assert f'href="/submissions/{running}">#{running}</a> digits-mlp' in gpu_row and "epoch 2/5" in gpu_row
    assert "CPU only" in cpu_row and ">stale<" in cpu_row and "idle" in cpu_row and "10 min ago" in cpu_row
    assert page.index("gpu-box:100") < page.index("cpu-box:200")  # live first
    counts = dict(re.findall(r'data-queue="(\w+)">(\d+)<', page))
    assert counts == {"gpu": "0", "cpu": "2", "rerun": "1"}
    assert 'href="/staff/workers"' in page  # the staff nav links here

    data = client.get("/staff/workers.json").get_json()
    assert data["queues"] == {"gpu": 0, "cpu": 2, "rerun": 1} and data["broker_error"] is None
    gpu_box = data["workers"][0]
    assert (gpu_box["name"], gpu_box["state"], gpu_box["slots"]) == ("gpu-box:100", "live", 1)
    assert gpu_box["gpus"] == [{"index": 0, "name": "NVIDIA A100-SXM4-40GB", "memory_total_bytes": 40 * 1024**3}]
    assert [run["submission_id"] for run in gpu_box["runs"]] == [running]


def test_a_stopped_worker_shows_no_runs_and_the_page_says_when_the_broker_is_down(app, accounts, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = create_app(dataclasses.replace(settings, broker_url=f"redis://127.0.0.1:{port}/0"),
                      queue=RecordingQueue(), test_config={"TESTING": True})  # fmt: skip
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    spec = WorkerSpec("old-box:300", "celery@old-box", "old-box", 300, ["cpu", "rerun"], 1, [])
    register(down, spec)
    with transaction(down.extensions["grader.sessions"]) as session:
        worker_registry.mark_stopped(session, spec.name, utcnow())
    client = down.test_client()
    AuthActions(client).login("prof@example.org")
    page = html.unescape(client.get("/staff/workers").get_data(as_text=True))
    assert ">stopped<" in row_of(page, "old-box:300")
    assert "The broker did not answer, so the queue lengths are unknown" in page and "Connection refused" in page
    down.extensions["grader.engine"].dispose()


def test_with_no_worker_the_page_says_how_to_start_one(client, auth, accounts):
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    assert "No worker has registered yet" in client.get("/staff/workers").get_data(as_text=True)


def test_students_get_403_and_no_nav_link(client, auth, accounts):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    assert client.get("/staff/workers").status_code == 403
    assert client.get("/staff/workers.json").status_code == 403
    assert "/staff/workers" not in client.get("/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/staff/workers")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_each_slot_shows_its_warm_pools(app, client, auth, accounts):
    accounts.add("ta@example.org", Role.TA)
    pools = {
        "pools": {"torch": {"size": 2, "ready": 1, "warming": 1}, "keras": {"size": 1, "ready": 0, "warming": 0}},
        "runs": {"warm": 41, "cold": 3},
        "replaced": 1,
        "dropped": 2,
        "retired": 0,
        "last": {"warm": True, "handover_s": 0.0042},
    }
    spec = WorkerSpec("box:300", "celery@box", "box", 300, ["cpu", "rerun"], 2, [])
    with transaction(app.extensions["grader.sessions"]) as session:
        worker_registry.register_worker(session, spec, utcnow())
        worker_registry.beat(session, spec.name, (301, 302), utcnow(), {301: pools, 999: pools})  # 999: not a slot
    auth.login("ta@example.org")
    row = html.unescape(row_of(client.get("/staff/workers").get_data(as_text=True), "box:300"))
    slot = re.sub(r"\s+", " ", re.search(r'<div data-slot="301">(.*?)</div>', row, re.S).group(1))
    assert "<br>torch: 1/2 ready, 1 warming<br>keras: 0/1 ready" in slot
    assert (
        "runs: 41 warm, 3 cold; 1 replaced after dying idle; 2 not replaced, dying again and again (see the worker's log); last handover"
        in slot
    )
    assert 'data-slot="302"' not in row and 'data-slot="999"' not in row
    assert client.get("/staff/workers.json").get_json()["workers"][0]["pools"] == {"301": pools}


def test_a_worker_without_pools_says_it_runs_cold(app, client, auth, accounts):
    accounts.add("ta@example.org", Role.TA)
    register(app, WorkerSpec("cold-box:400", "celery@cold-box", "cold-box", 400, ["cpu"], 1, []), slot_pids=(401,))
    auth.login("ta@example.org")
    row = row_of(client.get("/staff/workers").get_data(as_text=True), "cold-box:400")
    assert "none (cold runs only)" in row
