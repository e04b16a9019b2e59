"""The worker registry on SQLite and PostgreSQL: register, beat, stop, liveness, current runs, forgetting."""

from __future__ import annotations

import datetime as dt

from grader.db import transaction
from grader.gpu import Gpu
from grader.models import Assignment, Role, State, Submission, User, Worker, utcnow
from grader.services import worker_registry as registry
from grader.services.worker_registry import Liveness, WorkerSpec

WINDOW = dt.timedelta(seconds=60)
H100 = Gpu(index=1, name="NVIDIA H100 80GB HBM3", uuid="GPU-secret-uuid", minor=1, memory_total_bytes=80 * 1024**3)


def spec(name: str = "box:10", gpus: tuple[Gpu, ...] = ()) -> WorkerSpec:
    host, pid = name.split(":")
    queues = ["gpu", "cpu", "rerun"] if gpus else ["cpu", "rerun"]
    return WorkerSpec(name, f"celery@{host}", host, int(pid), queues, max(1, len(gpus)), gpus)


def running_submission(sessions, worker: str | None, state: State = State.RUNNING) -> int:
    with transaction(sessions) as session:
        user = session.query(User).first() or User(email="ada@example.org", role=Role.STUDENT, password_hash="x")
        assignment = session.query(Assignment).first() or Assignment(slug="digits-mlp", title="Digits")
        sub = Submission(user=user, assignment=assignment, filename="m.py", blob_sha256="0" * 64, size_bytes=1,
                         state=state, worker=worker, started_at=utcnow(), progress={"phase": "train"})  # fmt: skip
        session.add(sub)
        session.flush()
        return sub.id


def workers(sessions, now=None):
    with sessions() as session:
        return {w.name: w for w in registry.list_workers(session, now or utcnow(), WINDOW)}


def test_a_registered_worker_is_live_with_its_queues_slots_and_gpus(sessions):
    now = utcnow()
    with transaction(sessions) as session:
        registry.register_worker(session, spec("gpu-box:10", (H100,)), now)
    view = workers(sessions)["gpu-box:10"]
    assert (view.state, view.host, view.pid, view.node, view.slots) == (
        Liveness.LIVE,
        "gpu-box",
        10,
        "celery@gpu-box",
        1,
    )
    assert view.queues == ["gpu", "cpu", "rerun"]
    assert view.gpus == [{"index": 1, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 80 * 1024**3}]
    assert "GPU-secret-uuid" not in str(view.to_json())  # the UUID stays on the machine
    assert view.to_json()["state"] == "live" and view.to_json()["last_seen_at"].endswith("+00:00")


def test_liveness_follows_the_heartbeat_and_the_shutdown(sessions):
    start = utcnow() - dt.timedelta(minutes=5)
    with transaction(sessions) as session:
        registry.register_worker(session, spec("box:1"), start)
        registry.register_worker(session, spec("box:2"), start)
        assert registry.beat(session, "box:2", [21], utcnow())
    assert workers(sessions)["box:1"].state is Liveness.STALE
    assert workers(sessions)["box:2"].state is Liveness.LIVE
    with sessions() as session:
        assert registry.live_worker_count(session, utcnow(), WINDOW) == 1
    with transaction(sessions) as session:
        registry.mark_stopped(session, "box:2", utcnow())
    assert workers(sessions)["box:2"].state is Liveness.STOPPED
    with sessions() as session:
        assert registry.live_worker_count(session, utcnow(), WINDOW) == 0
    assert list(workers(sessions)) == ["box:1", "box:2"]  # stale before stopped


def test_a_beat_for_a_forgotten_worker_asks_it_to_register_again(sessions):
    with transaction(sessions) as session:
        assert registry.beat(session, "ghost:1", [], utcnow()) is False


def test_registering_again_under_the_same_name_starts_the_row_afresh(sessions):
    with transaction(sessions) as session:
        registry.register_worker(session, spec("box:1"), utcnow() - dt.timedelta(hours=1))
        registry.mark_stopped(session, "box:1", utcnow() - dt.timedelta(hours=1))
    with transaction(sessions) as session:
        registry.register_worker(session, spec("box:1", (H100,)), utcnow())
    with sessions() as session:
        assert session.query(Worker).count() == 1
    view = workers(sessions)["box:1"]
    assert view.state is Liveness.LIVE and view.stopped_at is None and view.slots == 1 and view.gpus


def test_current_runs_are_the_running_submissions_of_the_workers_processes(sessions):
    with transaction(sessions) as session:
        registry.register_worker(session, spec("box:10"), utcnow())
        registry.beat(session, "box:10", [11, 12], utcnow())
        registry.register_worker(session, spec("other:10"), utcnow())  # same pid, another host
    in_slot = running_submission(sessions, "box:11")
    in_main = running_submission(sessions, "box:10")  # a solo pool grades in the main process
    running_submission(sessions, "other:11")  # not a process of box:10
    running_submission(sessions, "box:13")  # an old slot, replaced since
    running_submission(sessions, "box:12", State.SCORED)  # done: not current
    runs = workers(sessions)["box:10"].runs
    assert sorted(run.submission_id for run in runs) == sorted([in_slot, in_main])
    assert {run.assignment for run in runs} == {"digits-mlp"} and runs[0].progress == {"phase": "train"}
    assert workers(sessions)["other:10"].runs == []


def test_a_stopped_worker_has_no_current_runs(sessions):
    with transaction(sessions) as session:
        registry.register_worker(session, spec("box:10"), utcnow())
        registry.beat(session, "box:10", [11], utcnow())
        registry.mark_stopped(session, "box:10", utcnow())
    running_submission(sessions, "box:11")  # left running by the stop: the sweep requeues it
    assert workers(sessions)["box:10"].runs == []


def test_workers_gone_for_a_week_are_forgotten(sessions):
    now = utcnow()
    with transaction(sessions) as session:
        registry.register_worker(session, spec("old:1"), now - dt.timedelta(days=8))
        registry.register_worker(session, spec("recent:1"), now - dt.timedelta(days=1))
    with transaction(sessions) as session:
        assert registry.forget_old_workers(session, now) == 1
    assert list(workers(sessions)) == ["recent:1"]
