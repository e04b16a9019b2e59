"""accept_upload: everything checked before anything is stored; the row committed before the enqueue."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import func, select

from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import BadSubmission
from grader.db import transaction
from grader.models import Assignment, Extension, Role, State, Submission, User
from grader.services.queue import RecordingQueue
from grader.services.uploads import accept_upload, check_on_time
from grader.storage import BlobStore

SECOND = dt.timedelta(seconds=1)
CODE = (PROJECT_ROOT / "tests" / "fixtures" / "submissions" / "partial_credit.py").read_bytes()


@pytest.fixture
def world(sessions, tmp_path):
    with transaction(sessions) as session:
        user = User(email="ada@example.org", role=Role.STUDENT, password_hash="x")
        session.add_all(
            [user, Assignment(slug="quick-digits", title="Q"), Assignment(slug="hidden", title="H", published=False)]
        )
        session.flush()
        user_id = user.id
    settings = load_settings({"GRADER_DATA_DIR": str(tmp_path / "data"), "GRADER_RUN_DIR": str(tmp_path / "runs")})
    return sessions, BlobStore(tmp_path / "blobs"), RecordingQueue(), user_id, settings


def upload(world, filename="model.py", data=CODE, slug="quick-digits"):
    sessions, store, queue, user_id, settings = world
    return accept_upload(
        sessions, store, queue, user_id=user_id, assignment_slug=slug, filename=filename, data=data, settings=settings
    )


def stored_blobs(world) -> list:
    root = world[1].root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def submissions(world) -> list[Submission]:
    with world[0]() as session:
        return list(session.scalars(select(Submission)))


def test_an_upload_is_stored_committed_and_queued(world):
    sid = upload(world, filename="C:\\Users\\ada\\model.py")
    [row] = submissions(world)
    assert (row.id, row.state, row.attempts, row.filename, row.size_bytes) == (
        sid,
        State.QUEUED,
        0,
        "model.py",
        len(CODE),
    )
    assert world[1].read(row.blob_sha256) == CODE
    assert world[2].enqueued == [(sid, False)]


def test_the_row_is_committed_before_the_message_is_sent(world):
    sessions, store, _, user_id, settings = world

    class CheckingQueue:
        def enqueue(self, submission_id, *, rerun=False):
            with sessions() as other:  # a different session sees the row: it is committed
                assert other.get(Submission, submission_id).state is State.QUEUED

    accept_upload(
        sessions,
        store,
        CheckingQueue(),
        user_id=user_id,
        assignment_slug="quick-digits",
        filename="m.py",
        data=CODE,
        settings=settings,
    )


def zip_of(*entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "filename, data, expected",
    [
        ("model.exe", b"MZ", "not a file grader accepts"),
        ("model.py", b"", "empty"),
        ("slip.zip", zip_of(("submission.py", b"x = 1\n"), ("../../evil.py", b"x")), "outside"),
        ("none.zip", zip_of(("model.py", b"x = 1\n")), "submission.py"),
        ("broken.ipynb", b"{not json", "notebook"),
    ],
)
def test_a_rejected_upload_stores_nothing(world, filename, data, expected):
    with pytest.raises(BadSubmission) as caught:
        upload(world, filename=filename, data=data)
    assert expected in caught.value.student_message.lower() or expected in caught.value.student_message
    assert stored_blobs(world) == [] and submissions(world) == [] and world[2].enqueued == []


@pytest.mark.parametrize("slug", ["no-such-assignment", "hidden"])
def test_unknown_or_unpublished_assignments_are_refused(world, slug):
    with pytest.raises(BadSubmission, match="no open assignment"):
        upload(world, slug=slug)
    assert stored_blobs(world) == [] and submissions(world) == []


def test_the_same_bytes_are_stored_once(world):
    upload(world)
    upload(world)
    assert len(stored_blobs(world)) == 1
    with world[0]() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 2


# Acceptance at upload time: the policy of the assignment and the student's extension, at their boundaries.

DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=dt.timezone.utc)
POLICY = {
    "due_at": "2025-02-13T23:59:00+00:00",
    "opens_at": "2025-01-20T09:00:00+00:00",
    "late": {"penalty_percent": 10, "per": "hour", "last_accepted": "2025-02-14T23:59:00+00:00"},
}


def set_policy(world, policy, slug="quick-digits"):
    with transaction(world[0]) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == slug)).one()
        row.policy = policy
        return row.id


def on_time(world, at, assignment_id):
    sessions, _store, _queue, user_id, settings = world
    with sessions() as session:
        check_on_time(session, assignment_id, user_id, at, settings)


def refusal(world, at, assignment_id) -> BadSubmission:
    with pytest.raises(BadSubmission) as caught:
        on_time(world, at, assignment_id)
    return caught.value


def test_acceptance_one_second_around_the_opening_and_the_last_accepted_moment(world):
    aid = set_policy(world, POLICY)
    opens = dt.datetime(2025, 1, 20, 9, 0, tzinfo=dt.timezone.utc)
    cutoff = dt.datetime(2025, 2, 14, 23, 59, tzinfo=dt.timezone.utc)
    assert "This assignment opens on 20 Jan 2025 09:00 UTC" in refusal(world, opens - SECOND, aid).student_message
    on_time(world, opens, aid)
    on_time(world, DUE + SECOND, aid)  # late but accepted (with a penalty, computed with the grade)
    on_time(world, cutoff, aid)
    message = refusal(world, cutoff + SECOND, aid).student_message
    assert (
        message == "Not accepted: Late submissions were accepted until 14 Feb 2025 23:59 UTC; that moment has passed."
    )


def test_an_extension_moves_the_students_last_accepted_moment(world):
    aid = set_policy(world, {"due_at": "2025-02-13T23:59:00+00:00"})  # no late work at all
    refusal(world, DUE + SECOND, aid)
    with transaction(world[0]) as session:
        session.add(
            Extension(
                assignment_id=aid,
                user_id=world[3],
                due_at=DUE + dt.timedelta(days=3),
                reason="ill",
                granted_by_id=world[3],
            )
        )
    on_time(world, DUE + dt.timedelta(days=3), aid)
    message = refusal(world, DUE + dt.timedelta(days=3) + SECOND, aid).student_message
    assert "Your extended due date was 16 Feb 2025 23:59 UTC" in message


def test_an_upload_past_the_cutoff_is_refused_and_nothing_is_stored(world):
    set_policy(world, {"due_at": "2025-02-13T23:59:00+00:00"})  # long past
    with pytest.raises(BadSubmission, match="accepts no late submissions"):
        upload(world)
    assert submissions(world) == [] and stored_blobs(world) == [] and world[2].enqueued == []


def test_a_hidden_assignment_with_a_policy_is_refused(world):
    set_policy(world, {"due_at": "2999-01-01T00:00:00+00:00", "published": False}, slug="hidden")
    with pytest.raises(BadSubmission, match="no open assignment 'hidden'"):
        upload(world, slug="hidden")
    set_policy(world, {"due_at": "2999-01-01T00:00:00+00:00"})
    assert upload(world) > 0  # an open one with a deadline far away takes it
