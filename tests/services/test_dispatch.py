"""Fair dispatch and the per-student bound, through the real upload and worker paths, on SQLite and PostgreSQL.

Issue 11 item 2: forty uploads of one student were all accepted, and the next
student's upload waited at position 43.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from grader.config import PROJECT_ROOT, load_settings
from grader.core.grading import Evaluation, grade
from grader.core.outcomes import Outcome
from grader.db import transaction
from grader.models import Assignment, Role, State, Submission, User, utcnow
from grader.services.dispatch import (
    PendingLimitReached,
    check_pending_limit,
    dispatch_next,
    lock_student,
    standing,
)
from grader.services.queue import RecordingQueue
from grader.services.uploads import accept_upload
from grader.services.worker_runs import run_submission, sweep_stuck
from grader.storage import BlobStore

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
CODE = (FIXTURES / "submissions" / "partial_credit.py").read_bytes()
DUE = "2099-01-01T00:00:00"


class FakeGrader:
    """Scores every upload without running anything."""

    def grade_upload(self, name, data, assignment):
        metrics = {"accuracy": 0.95, "macro_f1": 0.95, "parameters": 100}
        return grade(Evaluation(Outcome.OK, metrics, "ok", "ok", "", {}, {}), assignment.rubric, {})


class Course:
    """Students, one assignment and the upload and worker paths, with a queue double that records messages."""

    def __init__(self, sessions, tmp_path, policy=None):
        self.sessions = sessions
        self.store = BlobStore(tmp_path / "blobs")
        self.queue = RecordingQueue()
        self.settings = load_settings(
            {
                "GRADER_DATA_DIR": str(tmp_path / "data"),
                "GRADER_RUN_DIR": str(tmp_path / "runs"),
                "GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"),
                "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics"),
                "GRADER_QUEUED_STALE_AFTER_SECONDS": "60",
            }
        )
        with transaction(sessions) as session:
            session.add(Assignment(slug="quick-digits", title="Digits", policy=policy))
        self.students: dict[str, int] = {}

    def student(self, name: str) -> int:
        if name not in self.students:
            with transaction(self.sessions) as session:
                user = User(email=f"{name}@example.org", role=Role.STUDENT, password_hash="x")
                session.add(user)
                session.flush()
                self.students[name] = user.id
        return self.students[name]

    def upload(self, name: str, tag: int = 0) -> int:
        return accept_upload(
            self.sessions, self.store, self.queue, user_id=self.student(name), assignment_slug="quick-digits",
            filename="model.py", data=CODE + f"\n# {tag}\n".encode(), settings=self.settings,
        )  # fmt: skip

    def grade(self, submission_id: int) -> State | None:
        """What a worker does with the message: grade it, then dispatch the student's next upload."""
        return run_submission(
            submission_id, sessions=self.sessions, store=self.store, grader=FakeGrader(),
            settings=self.settings, queue=self.queue,
        )  # fmt: skip

    def sent(self) -> list[int]:
        return [sid for sid, rerun in self.queue.enqueued if not rerun]

    def row(self, submission_id: int) -> Submission:
        with self.sessions() as session:
            return session.get(Submission, submission_id)

    def rows(self) -> list[Submission]:
        with self.sessions() as session:
            return list(session.scalars(select(Submission).order_by(Submission.id)))

    def standing(self, submission_id: int):
        with self.sessions() as session:
            return standing(session, session.get(Submission, submission_id))


@pytest.fixture
def course(sessions, tmp_path):
    return Course(sessions, tmp_path)


def test_a_students_fourth_upload_is_refused_with_the_count(course):
    ids = [course.upload("ada", n) for n in range(3)]
    with pytest.raises(PendingLimitReached) as refused:
        course.upload("ada", 3)
    assert refused.value.student_message == (
        "You have 3 submissions of Digits waiting or running, the most this assignment allows at once. "
        "Upload again when one of them has finished."
    )
    assert [r.id for r in course.rows()] == ids  # nothing stored for the refused one
    course.upload("bob")  # another student is not bound by Ada's uploads


def test_the_bound_frees_up_when_a_submission_finishes(course):
    first = course.upload("ada", 0)
    course.upload("ada", 1)
    course.upload("ada", 2)
    assert course.grade(first) is State.SCORED
    course.upload("ada", 3)  # 2 waiting or running again: accepted


def test_the_assignment_policy_sets_the_bound(sessions, tmp_path):
    course = Course(sessions, tmp_path, policy={"due_at": DUE, "pending_limit": 1})
    course.upload("ada", 0)
    with pytest.raises(PendingLimitReached, match="You have 1 submission of Digits waiting or running"):
        course.upload("ada", 1)


def test_staff_reruns_do_not_count_towards_the_bound(course):
    from grader.services.reruns import request_reruns

    first = course.upload("ada", 0)
    course.grade(first)
    with transaction(course.sessions) as session:
        session.add(User(email="ta@example.org", role=Role.TA, password_hash="x"))
    with course.sessions() as session:
        ta = session.scalars(select(User.id).where(User.email == "ta@example.org")).one()
    request_reruns(course.sessions, course.queue, submission_ids=[first], staff_id=ta)
    for n in range(1, 4):
        course.upload("ada", n)  # the queued re-run leaves all three places free


def test_a_staff_rerun_waits_behind_every_first_run_in_the_queue(course):
    from grader.services.reruns import request_reruns

    first = course.upload("ada", 0)
    course.grade(first)
    with transaction(course.sessions) as session:
        ta = User(email="ta@example.org", role=Role.TA, password_hash="x")
        session.add(ta)
        session.flush()
        ta_id = ta.id
    [rerun] = request_reruns(course.sessions, course.queue, submission_ids=[first], staff_id=ta_id).queued.values()
    bob = course.upload("bob")
    assert course.queue.enqueued[-2:] == [(rerun, True), (bob, False)]
    assert course.standing(bob).position == 1 and course.standing(rerun).position == 2


def test_concurrent_uploads_never_pass_the_bound_together(sessions, tmp_path):
    course = Course(sessions, tmp_path)
    student = course.student("ada")
    start, outcomes = threading.Barrier(6), []

    def upload(n):
        start.wait()
        try:
            outcomes.append(course.upload("ada", n))
        except PendingLimitReached:
            outcomes.append("refused")

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") == 3 and len(course.rows()) == 3
    assert all(row.user_id == student for row in course.rows())


def test_the_bound_check_waits_for_a_concurrent_upload_of_the_same_student(sessions, tmp_path):
    """The second check runs while the first transaction has counted but not yet committed: it must wait and see it."""
    course = Course(sessions, tmp_path, policy={"due_at": DUE, "pending_limit": 1})
    student = course.student("ada")
    with sessions() as session:
        assignment = session.scalars(select(Assignment)).one()
    counted, second_done, results = threading.Event(), threading.Event(), []

    def insert(session):
        session.add(
            Submission(
                user_id=student, assignment_id=assignment.id, filename="m.py", blob_sha256="0" * 64, size_bytes=1
            )
        )

    def first():
        with transaction(sessions) as session:
            lock_student(session, student)
            check_pending_limit(session, student, assignment, 1)
            insert(session)
            session.flush()
            counted.set()
            second_done.wait(1.0)  # the second check must not finish while this one is open
            results.append(("first", second_done.is_set()))

    def second():
        counted.wait()
        try:
            with transaction(sessions) as session:
                lock_student(session, student)
                check_pending_limit(session, student, assignment, 1)
                insert(session)
            results.append(("second", "accepted"))
        except PendingLimitReached:
            results.append(("second", "refused"))
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [("first", False), ("second", "refused")]


def test_one_students_burst_does_not_delay_another_student(course):
    ada = [course.upload("ada", n) for n in range(3)]
    bob = course.upload("bob")
    assert course.sent() == [ada[0], bob]  # one message per student in the broker
    assert course.standing(bob).position == 2
    assert [course.row(sid).dispatched_at is None for sid in ada] == [False, True, True]
    waiting = course.standing(ada[2])
    assert (waiting.position, waiting.waiting_for, waiting.in_queue) == (None, (ada[0], ada[1]), 2)
    # The broker is FIFO: a worker takes Ada's first, which dispatches her second behind Bob's.
    course.grade(ada[0])
    assert course.sent() == [ada[0], bob, ada[1]]
    assert course.standing(bob).position == 1 and course.standing(ada[1]).position == 2
    course.grade(bob)
    course.grade(ada[1])
    assert course.sent() == [ada[0], bob, ada[1], ada[2]]
    course.grade(ada[2])
    assert [r.state for r in course.rows()] == [State.SCORED] * 4 and len(course.sent()) == 4


def test_concurrent_dispatchers_send_a_waiting_upload_exactly_once(course):
    first = course.upload("ada", 0)
    second = course.upload("ada", 1)
    with transaction(course.sessions) as session:  # the first is final, as if its worker died before dispatching
        session.execute(update(Submission).where(Submission.id == first).values(state=State.SCORED))
    start = threading.Barrier(4)

    def dispatch():
        start.wait()
        dispatch_next(course.sessions, course.queue, course.student("ada"))

    threads = [threading.Thread(target=dispatch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert course.sent() == [first, second]


def test_the_sweep_dispatches_a_lost_turn_and_never_sends_a_waiting_upload_early(course):
    first = course.upload("ada", 0)
    second = course.upload("ada", 1)
    long_ago = utcnow() - dt.timedelta(hours=1)
    with transaction(course.sessions) as session:  # waiting an hour behind a fresh first: not stuck
        session.execute(update(Submission).where(Submission.id == second).values(queued_at=long_ago))
        session.execute(update(Submission).where(Submission.id == first).values(dispatched_at=utcnow()))
    assert sweep_stuck(course.sessions, course.queue, course.settings) == []
    with transaction(course.sessions) as session:  # the first ended but its worker died before dispatching
        session.execute(update(Submission).where(Submission.id == first).values(state=State.FAILED))
    assert sweep_stuck(course.sessions, course.queue, course.settings) == [second]
    assert sweep_stuck(course.sessions, course.queue, course.settings) == []
    assert course.sent() == [first, second]


def test_a_running_submission_holds_the_students_turn(course):
    first = course.upload("ada", 0)
    with transaction(course.sessions) as session:  # claimed by a worker
        session.execute(update(Submission).where(Submission.id == first).values(state=State.RUNNING))
    second = course.upload("ada", 1)
    assert course.sent() == [first] and course.standing(second).waiting_for == (first,)
