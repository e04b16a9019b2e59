"""Re-runs: a new queued row per chain on the rerun queue, the first result kept, never queued twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Role, State, Submission, User, utcnow
from grader.services.overrides import (
    ActionRefused,
    audit_trail,
    chain_score,
    override_score,
    score_in_force,
    student_notice,
)
from grader.services.queue import RecordingQueue
from grader.services.reruns import (
    OverrideChoice,
    OverrideChoiceNeeded,
    chain_rows,
    parse_override_choice,
    request_reruns,
)

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


# An override across re-runs (issue 11 item 4): it belongs to the upload; a re-run asks the TA first.

REASON = "Three test images were mislabelled; graded by hand."


@pytest.fixture
def overridden(world):
    """Upload "a" (rubric 8.5 / 10) overridden to 4 by Ada, a TA: the issue's #5 overridden to 40, at scale 10.

    Upload "b" is another student's, so the first student's grade is upload "a"'s alone.
    """
    with transaction(world["sessions"]) as session:
        other = User(email="bo@example.org", role=Role.STUDENT, password_hash="x")
        session.add(other)
        session.flush()
        session.get(Submission, world["b"]).user_id = other.id
        ta = session.get(User, world["ta"])
        ta.name = "Ada"
        override_score(session, submission_id=world["a"], staff=ta, points="4", reason=REASON)
    return world


def _finish(sessions, submission_id: int, score: float) -> None:
    """Score a re-run row as a worker leaves it."""
    with transaction(sessions) as session:
        row = session.get(Submission, submission_id)
        row.state, row.score, row.max_score, row.finished_at = State.SCORED, score, 10.0, utcnow()


def _trail(sessions, submission_id: int) -> list[tuple]:
    with sessions() as session:
        return [
            (r.submission_id, r.points_before, r.points_after, r.reason) for r in audit_trail(session, submission_id)
        ]


def _final(sessions, world) -> float | None:
    """The assignment's final for the student, as the grades page and the course grade compute it."""
    from grader.config import load_settings
    from grader.services.grades import grade_table

    with sessions() as session:
        assignment = session.scalars(select(Assignment)).one()
        settings = load_settings({})
        now = utcnow()
        grades = grade_table(session, settings, [assignment], [world["student"]], tz=dt.timezone.utc, now=now)
        return grades[(world["student"], assignment.id)].final.value


def test_a_rerun_of_an_overridden_upload_without_a_choice_is_refused_and_nothing_is_queued(overridden):
    queue, sessions = RecordingQueue(), overridden["sessions"]
    with pytest.raises(OverrideChoiceNeeded) as refused:
        request_reruns(sessions, queue, submission_ids=[overridden["a"], overridden["b"]], staff_id=overridden["ta"])
    assert refused.value.field == "override_choice"
    assert str(refused.value) == (
        f"Submission #{overridden['a']} (4 by Ada) has an override in force. Choose: keep the override in force"
        " (the re-run's score is shown to staff but the override counts), or withdraw the override"
        " (the re-run's score will count). Nothing was queued."
    )
    assert refused.value.overridden[overridden["a"]].reason == REASON
    assert queue.enqueued == [] and len(_rows(sessions, overridden["b"])) == 1  # not even the other upload
    assert len(_rows(sessions, overridden["a"])) == 1 and len(_trail(sessions, overridden["a"])) == 1


def test_a_kept_override_counts_over_the_reruns_score_for_the_student_the_grades_and_the_search(overridden):
    from grader.web.queries import SubmissionFilter, search_submissions

    queue, sessions, first = RecordingQueue(), overridden["sessions"], overridden["a"]
    report = request_reruns(
        sessions, queue, submission_ids=[first], staff_id=overridden["ta"], override_choice=OverrideChoice.KEEP
    )
    new = report.queued[first]
    assert report.kept == (first,) and "Override of #" in report.summary() and queue.enqueued == [(new, True)]
    assert _final(sessions, overridden) == 4.0  # while the re-run waits, the override counts
    _finish(sessions, new, 1.249)
    with sessions() as session:
        rerun = session.get(Submission, new)
        counts = chain_score(session, rerun)
        assert (counts.points, counts.run, counts.override.run) == (4.0, new, first)
        assert score_in_force(session, session.get(Submission, first)) == 4.0
        day = rerun.queued_at.strftime("%Y-%m-%d")
        notice = f"Score set to 4 by Ada: {REASON} Re-run on {day}: the override still counts."
        assert student_notice(counts, rerun) == notice
        earlier = chain_score(session, session.get(Submission, first))
        assert student_notice(earlier, session.get(Submission, first)) == notice.replace(day, f"{day} (run #{new})")
        found = search_submissions(session, SubmissionFilter(max_score=5.0)).rows
        assert [(row.submission.id, row.score) for row in found] == [(new, 4.0)]
    assert _final(sessions, overridden) == 4.0
    assert _trail(sessions, new) == [(first, 8.5, 4.0, REASON)]  # the upload's trail, from any of its runs


def test_withdrawing_when_rerunning_writes_the_withdrawal_with_the_rerun_and_the_reruns_score_counts(overridden):
    queue, sessions, first = RecordingQueue(), overridden["sessions"], overridden["a"]
    report = request_reruns(
        sessions, queue, submission_ids=[first], staff_id=overridden["ta"],
        override_choice=OverrideChoice.WITHDRAW, note="  the rubric is fixed  ",
    )  # fmt: skip
    new = report.queued[first]
    assert report.withdrawn == (first,) and "withdrawn: the re-run's score will count" in report.summary()
    assert _trail(sessions, new) == [
        (first, 8.5, 4.0, REASON),
        (first, 4.0, None, "withdrawn when Ada re-ran the submission: the rubric is fixed"),
    ]
    _finish(sessions, new, 1.25)
    with sessions() as session:
        rerun = session.get(Submission, new)
        counts = chain_score(session, rerun)
        assert (counts.points, counts.override) == (1.25, None)
        assert student_notice(counts, rerun) == (
            f"A re-run, requested by staff, of your upload #{first}; this run is the one that counts."
        )
    assert _final(sessions, overridden) == 1.25


def test_a_withdrawal_that_cannot_be_written_queues_nothing(overridden):
    queue, sessions, first = RecordingQueue(), overridden["sessions"], overridden["a"]
    with pytest.raises(ActionRefused, match="keep it shorter") as refused:
        request_reruns(
            sessions, queue, submission_ids=[first], staff_id=overridden["ta"],
            override_choice=OverrideChoice.WITHDRAW, note="x" * 5000,
        )  # fmt: skip
    assert refused.value.field == "note" and queue.enqueued == []
    assert len(_rows(sessions, first)) == 1 and len(_trail(sessions, first)) == 1


def test_an_unknown_choice_is_refused_naming_the_field():
    with pytest.raises(ActionRefused, match="Choose 'keep' or 'withdraw'") as refused:
        parse_override_choice("maybe")
    assert refused.value.field == "override_choice"
    assert parse_override_choice(" Keep ") is OverrideChoice.KEEP and parse_override_choice("") is None
