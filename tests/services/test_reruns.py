"""Re-runs: a new queued row per chain on the rerun queue, the first result kept, never queued twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Role, State, Submission, User
from grader.services.overrides import ActionRefused
from grader.services.queue import RecordingQueue
from grader.services.reruns import chain_rows, request_reruns

UPLOADED = dt.datetime(2025, 2, 13, 23, 58, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(sessions):
    with transaction(sessions) as session:
        assignment = Assignment(slug="digits-mlp", title="Digits", topic=1)
        student = User(email="ada@example.org", role=Role.STUDENT, password_hash="x")
        ta = User(email="ta@example.org", role=Role.TA, password_hash="x")
        session.add_all([assignment, student, ta])
        session.flush()

        def scored(score: float) -> int:
            sub = Submission(
                user_id=student.id, assignment_id=assignment.id, filename="model.py", blob_sha256="a" * 64,
                size_bytes=10, state=State.SCORED, score=score, max_score=10.0, created_at=UPLOADED,
                result={"status": "scored", "score": score},
            )  # fmt: skip
            session.add(sub)
            session.flush()
            return sub.id

        return {"sessions": sessions, "a": scored(8.5), "b": scored(6.0), "student": student.id, "ta": ta.id}


def _rows(sessions, root: int) -> list[Submission]:
    with sessions() as session:
        return chain_rows(session, root)


def test_a_rerun_is_a_new_queued_row_on_the_rerun_queue_and_the_first_result_stays(world):
    queue = RecordingQueue()
    report = request_reruns(world["sessions"], queue, submission_ids=[world["a"]], staff_id=world["ta"])
    first, rerun = _rows(world["sessions"], world["a"])
    assert report.queued == {world["a"]: rerun.id} and queue.enqueued == [(rerun.id, True)]
    assert (first.state, first.score, first.result) == (State.SCORED, 8.5, {"status": "scored", "score": 8.5})
    assert rerun.state is State.QUEUED and rerun.rerun_of_id == first.id and rerun.requested_by_id == world["ta"]
    assert (rerun.filename, rerun.blob_sha256, rerun.user_id) == (first.filename, first.blob_sha256, first.user_id)
    assert rerun.created_at.replace(tzinfo=dt.timezone.utc) == UPLOADED  # deadlines judge the upload time
    assert rerun.score is None and rerun.result is None


def test_a_chain_waiting_for_a_rerun_is_not_queued_twice_and_a_finished_one_chains_to_the_upload(world):
    queue, sessions = RecordingQueue(), world["sessions"]
    request_reruns(sessions, queue, submission_ids=[world["a"]], staff_id=world["ta"])
    again = request_reruns(sessions, queue, submission_ids=[world["a"], world["b"]], staff_id=world["ta"])
    assert list(again.queued) == [world["b"]] and "already waiting for a re-run" in again.skipped[world["a"]]
    assert len(queue.enqueued) == 2 and all(rerun for _, rerun in queue.enqueued)
    second = _rows(sessions, world["a"])[-1]
    with transaction(sessions) as session:
        session.get(Submission, second.id).state = State.SCORED
    third = request_reruns(sessions, queue, submission_ids=[second.id], staff_id=world["ta"])  # asked via the re-run
    rows = _rows(sessions, world["a"])
    assert len(rows) == 3 and rows[-1].id == third.queued[second.id]
    assert {r.rerun_of_id for r in rows[1:]} == {world["a"]}  # every re-run points at the upload itself


def test_an_upload_still_in_its_first_run_is_not_rerun(world):
    with transaction(world["sessions"]) as session:
        session.get(Submission, world["a"]).state = State.RUNNING
    queue = RecordingQueue()
    report = request_reruns(world["sessions"], queue, submission_ids=[world["a"]], staff_id=world["ta"])
    assert report.queued == {} and "its first run" in report.skipped[world["a"]] and queue.enqueued == []


def test_students_and_empty_requests_are_refused_and_nothing_is_written(world):
    queue = RecordingQueue()
    with pytest.raises(ActionRefused, match="Only TAs and instructors"):
        request_reruns(world["sessions"], queue, submission_ids=[world["a"]], staff_id=world["student"])
    with pytest.raises(ActionRefused, match="Choose at least one"):
        request_reruns(world["sessions"], queue, submission_ids=[], staff_id=world["ta"])
    assert queue.enqueued == []
    with world["sessions"]() as session:
        assert len(session.scalars(select(Submission.id)).all()) == 2


def test_an_unknown_id_is_skipped_with_a_reason(world):
    report = request_reruns(world["sessions"], RecordingQueue(), submission_ids=[424242], staff_id=world["ta"])
    assert report.skipped == {424242: "there is no such submission."}
    assert "#424242: there is no such submission." in report.summary()


def test_a_worker_grades_the_rerun_row_like_any_queued_row_and_leaves_the_first_alone(world, tmp_path):
    from grader.config import PROJECT_ROOT, load_settings
    from grader.services.worker_runs import run_submission
    from grader.storage import BlobStore
    from tests.services.test_worker_runs import FakeGrader

    fixtures = PROJECT_ROOT / "tests" / "fixtures"
    settings = load_settings(
        {"GRADER_ASSIGNMENTS_DIR": str(fixtures / "assignments"), "GRADER_RUBRICS_DIR": str(fixtures / "rubrics")}
    )

    store = BlobStore(tmp_path / "blobs")
    sha = store.put(b"def build_model(i, n):\n    pass\n")
    with transaction(world["sessions"]) as session:
        session.get(Submission, world["a"]).blob_sha256 = sha
        session.scalars(select(Assignment)).one().slug = "quick-digits"  # a fixture assignment the worker loads
    queue = RecordingQueue()
    new_id = request_reruns(world["sessions"], queue, submission_ids=[world["a"]], staff_id=world["ta"]).queued[
        world["a"]
    ]
    state = run_submission(
        new_id, sessions=world["sessions"], store=store, grader=FakeGrader(), settings=settings, worker="w:1"
    )
    first, rerun = _rows(world["sessions"], world["a"])
    assert state is State.SCORED and rerun.state is State.SCORED and rerun.score is not None
    assert (first.score, first.state) == (8.5, State.SCORED)
