"""Upload -> queue -> a real Celery worker -> exactly one final state, whatever happens to messages and workers."""

from __future__ import annotations

import signal

from grader.models import State
from tests.workers.conftest import FIXTURES, final_states

PARTIAL = (FIXTURES / "submissions" / "partial_credit.py").read_bytes()
# Slow enough to be killed mid-run: it sleeps in train, then trains like partial_credit.
SLOW = PARTIAL.replace(
    b"def train(model, x_train, y_train):\n",
    b"def train(model, x_train, y_train):\n    import time\n    time.sleep(6)\n",
)


def test_an_upload_is_graded_by_a_worker(service):
    service.start_worker()
    sid = service.upload("partial_credit.py", PARTIAL)
    row = service.wait_final(sid)
    assert (row.state, row.attempts, row.outcome) == (State.SCORED, 1, "ok")
    assert 0 < row.score < row.max_score and row.result["status"] == "scored"
    assert row.worker and row.finished_at and row.evaluation["metrics"]["accuracy"] > 0
    assert final_states(service.logs(), sid) == ["scored"]


def test_a_worker_killed_mid_run_leaves_the_submission_to_the_next(service):
    first = service.start_worker()
    sid = service.upload("slow.py", SLOW)
    # Mid-run: the heartbeat has published the run's own progress (it sleeps in train).
    service.wait_for(sid, lambda r: r.state is State.RUNNING and (r.progress or {}).get("phase") == "train", 60)
    service.kill(first)
    assert first.returncode == -signal.SIGKILL and service.row(sid).state is State.RUNNING
    service.start_worker()
    row = service.wait_final(sid, timeout=150)
    assert (row.state, row.attempts) == (State.SCORED, 2)
    assert final_states(service.logs(), sid) == ["scored"]


def test_a_message_delivered_three_times_grades_once(service):
    sid = service.upload("partial_credit.py", PARTIAL)
    service.queue.enqueue(sid)
    service.queue.enqueue(sid)
    service.start_worker()
    row = service.wait_final(sid)
    assert (row.state, row.attempts) == (State.SCORED, 1)
    import time

    time.sleep(2)  # let the other two deliveries arrive
    logs = service.logs()
    assert final_states(logs, sid) == ["scored"]
    assert logs.count(f"submission {sid}: not claimable") == 2, logs[-3000:]


def test_repeated_infrastructure_failures_end_in_error_that_costs_nothing(service):
    sid = service.upload("partial_credit.py", PARTIAL + b"\n# unique\n")
    service.store.path(service.row(sid).blob_sha256).unlink()  # every attempt now fails on our side
    service.start_worker()
    row = service.wait_final(sid, timeout=90)
    assert (row.state, row.outcome, row.score, row.attempts) == (State.ERROR, "sandbox_error", None, 4)
    assert "not your fault" in row.result["student_message"]
