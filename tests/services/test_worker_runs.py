"""run_submission and sweep_stuck with a grader double, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import InfrastructureError
from grader.core.grading import Evaluation, grade
from grader.core.outcomes import Outcome
from grader.db import transaction
from grader.models import Assignment, Role, RubricRevision, State, Submission, User, utcnow
from grader.services.queue import RecordingQueue
from grader.services.references import record_references
from grader.services.worker_runs import claim_submission, record_result, run_submission, sweep_stuck
from grader.storage import BlobStore

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


class FakeGrader:
    """Scores every upload 1.0 accuracy without running anything; counts its calls."""

    def __init__(self, fail_with: Exception | None = None):
        self.calls = 0
        self.fail_with = fail_with

    def grade_upload(self, name, data, assignment):
        self.calls += 1
        if self.fail_with:
            raise self.fail_with
        metrics = {"accuracy": 0.95, "macro_f1": 0.95, "parameters": 100}
        return grade(Evaluation(Outcome.OK, metrics, "ok", "ok", "", {}, {}), assignment.rubric, {})


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {
            "GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"),
            "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
            "GRADER_MAX_ATTEMPTS": "2",
            "GRADER_STALE_AFTER_SECONDS": "30",
            "GRADER_QUEUED_STALE_AFTER_SECONDS": "60",
        }
    )


@pytest.fixture
def submission(sessions, tmp_path):
    store = BlobStore(tmp_path / "blobs")
    sha = store.put(b"def build_model(i, n):\n    pass\n")
    with transaction(sessions) as session:
        user = User(email="ada@example.org", role=Role.STUDENT, password_hash="x")
        assignment = Assignment(slug="quick-digits", title="Q")
        session.add_all([user, assignment])
        session.flush()
        row = Submission(
            user_id=user.id, assignment_id=assignment.id, filename="m.py", blob_sha256=sha, size_bytes=9,
            dispatched_at=utcnow(),  # sent to the broker, as an upload with nothing else in flight is
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id, store


def row(sessions, sid) -> Submission:
    with sessions() as session:
        return session.get(Submission, sid)


def age(sessions, sid, seconds, **extra):
    """Pretend the row's heartbeat, queueing and dispatch happened `seconds` ago."""
    past = utcnow() - dt.timedelta(seconds=seconds)
    with transaction(sessions) as session:
        session.execute(
            update(Submission)
            .where(Submission.id == sid, Submission.dispatched_at.is_not(None))
            .values(dispatched_at=past)
        )
        session.execute(
            update(Submission).where(Submission.id == sid).values(heartbeat_at=past, queued_at=past, **extra)
        )


def test_a_submission_is_graded_once(sessions, submission, settings):
    sid, store = submission
    grader = FakeGrader()
    assert run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings) is State.SCORED
    assert run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings) is None
    done = row(sessions, sid)
    assert (grader.calls, done.state, done.attempts, done.score) == (1, State.SCORED, 1, 100.0)
    assert done.result["status"] == "scored" and done.finished_at is not None


def test_concurrent_deliveries_grade_once(sessions, submission, settings):
    sid, store = submission
    grader, results = FakeGrader(), []

    def deliver():
        results.append(run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert grader.calls == 1 and sorted(map(str, results)) == sorted(map(str, [State.SCORED, None, None, None]))
    assert row(sessions, sid).attempts == 1


def test_a_fresh_running_row_is_left_alone_and_a_stale_one_is_taken_over(sessions, submission, settings):
    sid, store = submission
    first = claim_submission(sessions, sid, "a:1", settings)
    assert claim_submission(sessions, sid, "b:2", settings) is None
    age(sessions, sid, 31)
    second = claim_submission(sessions, sid, "b:2", settings)
    assert (first.attempt, second.attempt) == (1, 2)
    late = FakeGrader().grade_upload("m.py", b"", _quick(settings))
    assert record_result(sessions, first, late) is None  # the old attempt is fenced off
    assert record_result(sessions, second, late) is State.SCORED
    assert row(sessions, sid).worker == "b:2"


def _quick(settings):
    from grader.assignments import load_assignment

    return load_assignment("quick-digits", settings)


def test_infrastructure_errors_requeue_and_the_cap_ends_in_error(sessions, submission, settings):
    sid, store = submission
    grader = FakeGrader(fail_with=InfrastructureError("sandbox broke"))
    for attempt in (1, 2):
        with pytest.raises(InfrastructureError):
            run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings)
        assert (row(sessions, sid).state, row(sessions, sid).attempts) == (State.QUEUED, attempt)
    assert run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings) is State.ERROR
    final = row(sessions, sid)
    assert (grader.calls, final.state, final.outcome, final.score) == (2, State.ERROR, "sandbox_error", None)
    assert "not your fault" in final.result["student_message"]


def test_a_missing_blob_is_our_failure(sessions, submission, settings):
    sid, store = submission
    store.path(row(sessions, sid).blob_sha256).unlink()
    with pytest.raises(InfrastructureError):
        run_submission(sid, sessions=sessions, store=store, grader=FakeGrader(), settings=settings)
    assert row(sessions, sid).state is State.QUEUED


def test_the_sweep_requeues_stuck_rows_only(sessions, submission, settings):
    sid, _ = submission
    queue = RecordingQueue()
    assert sweep_stuck(sessions, queue, settings) == []  # just queued
    claim_submission(sessions, sid, "a:1", settings)
    assert sweep_stuck(sessions, queue, settings) == []  # running with a fresh heartbeat
    age(sessions, sid, 31)
    assert sweep_stuck(sessions, queue, settings) == [sid]
    assert row(sessions, sid).state is State.QUEUED and queue.enqueued == [(sid, False)]
    age(sessions, sid, 61)
    assert sweep_stuck(sessions, queue, settings) == [sid]  # queued too long: sent again
    with transaction(sessions) as session:
        session.execute(update(Submission).where(Submission.id == sid).values(state=State.SCORED))
    age(sessions, sid, 1000)
    assert sweep_stuck(sessions, queue, settings) == []


def test_the_sweep_sends_a_stuck_rerun_back_to_the_low_priority_queue(sessions, submission, settings):
    sid, _ = submission
    with transaction(sessions) as session:
        first = session.get(Submission, sid)
        first.state = State.SCORED
        rerun = Submission(
            user_id=first.user_id, assignment_id=first.assignment_id, filename=first.filename,
            blob_sha256=first.blob_sha256, size_bytes=first.size_bytes, rerun_of_id=sid,
        )  # fmt: skip
        session.add(rerun)
        session.flush()
        rerun_id = rerun.id
    age(sessions, rerun_id, 1000)
    queue = RecordingQueue()
    assert sweep_stuck(sessions, queue, settings) == [rerun_id]
    assert queue.enqueued == [(rerun_id, True)]


def test_the_heartbeat_publishes_the_runs_own_progress_cleaned(sessions, submission, settings):
    import dataclasses
    import time
    import types

    sid, store = submission
    fast = dataclasses.replace(settings, heartbeat_seconds=0.05)
    grader = FakeGrader()
    reported = {"phase": "train", "epoch": 2, "epochs": 5, "loss": 0.25, "spam": "x" * 10000}
    grader.evaluator = types.SimpleNamespace(live_progress=lambda: reported)
    original = grader.grade_upload

    def slow_grade(name, data, assignment):
        time.sleep(0.4)
        return original(name, data, assignment)

    grader.grade_upload = slow_grade
    run_submission(sid, sessions=sessions, store=store, grader=grader, settings=fast)
    assert row(sessions, sid).progress == {"phase": "train", "epoch": 2, "epochs": 5, "loss": 0.25}


def test_progress_from_a_run_is_bounded():
    from grader.services.worker_runs import clean_progress

    assert clean_progress({"phase": "rm -rf /", "epoch": True, "epochs": 10**9, "loss": float("nan")}) is None
    assert clean_progress({"phase": "predict"}) == {"phase": "predict"}


class CachedReferences:
    """The part of ReferenceResults a worker reads after grading: what is cached for the assignment."""

    def __init__(self, found):
        self.found, self.asked = found, []

    def cached(self, assignment):
        self.asked.append(assignment.slug)
        return self.found


def test_the_worker_grades_with_the_newest_rubric_revision(sessions, submission, settings):
    sid, store = submission
    text = (FIXTURES / "rubrics" / "quick-digits.yaml").read_text()
    with transaction(sessions) as session:
        user_id = session.get(Submission, sid).user_id
        aid = session.get(Submission, sid).assignment_id
        session.add(
            RubricRevision(assignment_id=aid, yaml_text=text.replace("points: 100", "points: 30"), saved_by_id=user_id)
        )
        session.flush()
        session.add(
            RubricRevision(assignment_id=aid, yaml_text=text.replace("points: 100", "points: 40"), saved_by_id=user_id)
        )
    assert run_submission(sid, sessions=sessions, store=store, grader=FakeGrader(), settings=settings) is State.SCORED
    done = row(sessions, sid)
    assert (done.score, done.max_score) == (40.0, 40.0)  # the newest revision's 40, not the file's 100
    assert [c["max_points"] for c in done.result["criteria"]] == [40.0]


def test_the_worker_stores_the_reference_metrics_it_has(sessions, submission, settings):
    sid, store = submission
    measured = {"keras": {"accuracy": 0.97, "macro_f1": 0.97, "parameters": 9000}}
    grader = FakeGrader()
    grader.references = CachedReferences(measured)
    run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings)
    with sessions() as session:
        assert session.get(Submission, sid).assignment.references == measured
    assert grader.references.asked == ["quick-digits"]


def test_a_failed_grading_stores_no_references(sessions, submission, settings):
    sid, store = submission
    grader = FakeGrader(fail_with=OSError("disk full"))
    grader.references = CachedReferences({"keras": {"accuracy": 1.0}})
    with pytest.raises(InfrastructureError):
        run_submission(sid, sessions=sessions, store=store, grader=grader, settings=settings)
    with sessions() as session:
        assert session.get(Submission, sid).assignment.references is None


def test_recorded_references_merge_over_the_stored_ones(sessions, submission):
    keras = {"keras": {"accuracy": 0.97}}
    torch = {"torch": {"accuracy": 0.96}}
    assert record_references(sessions, "quick-digits", keras) is True
    assert record_references(sessions, "quick-digits", torch) is True  # e.g. `grader references build` of one
    with sessions() as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "quick-digits")).one()
        assert row.references == {**keras, **torch}
    assert record_references(sessions, "no-such-assignment", keras) is False


def test_cached_references_are_read_without_running_anything(tmp_path, settings):
    from grader.services.references import ReferenceResults

    references = ReferenceResults(evaluator=None, cache_dir=tmp_path)  # an evaluator would be needed only to run
    assignment = _quick(settings)
    assert references.cached(assignment) == {}
    path = references._cache_path(assignment, "keras")
    path.parent.mkdir(parents=True)
    path.write_text('{"metrics": {"accuracy": 0.93}}')
    assert references.cached(assignment) == {"keras": {"accuracy": 0.93}}
