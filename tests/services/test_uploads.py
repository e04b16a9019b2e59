"""accept_upload: everything checked before anything is stored; the row committed before the enqueue."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import BadSubmission
from grader.db import transaction
from grader.models import Assignment, Role, State, Submission, User
from grader.services.queue import RecordingQueue
from grader.services.uploads import accept_upload
from grader.storage import BlobStore

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
