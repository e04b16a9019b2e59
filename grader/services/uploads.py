"""Accept an upload: check it whole, store it, commit its row, then dispatch it (grader.services.dispatch)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grader.config import Settings
from grader.core.errors import BadSubmission, InfrastructureError, SpecError
from grader.core.policy import Extension as ExtensionSpec
from grader.core.policy import check_acceptance
from grader.db import transaction
from grader.models import Assignment, Extension, State, Submission, utcnow
from grader.services.assignment_admin import read_policy
from grader.services.course_grades import course_timezone
from grader.services.dispatch import check_pending_limit, claim_dispatch, lock_student, pending_limit
from grader.services.feedback import level_for_upload
from grader.services.queue import GradingQueue
from grader.services.submissions import UploadLimits, prepare_submission
from grader.storage import BlobStore

BUSY = "The grader could not check your upload just now; nothing was stored. Try again in a minute."


def accept_upload(
    sessions: sessionmaker[Session],
    store: BlobStore,
    queue: GradingQueue,
    *,
    user_id: int,
    assignment_slug: str,
    filename: str,
    data: bytes,
    settings: Settings,
) -> int:
    """Validate the upload, store it and queue it; return the submission id.

    Raise BadSubmission (with the student's message) for an unknown or
    unpublished assignment, one that is not open yet or no longer accepts this
    student's work (extension included), or an upload that fails any check;
    then nothing is stored. PendingLimitReached (a BadSubmission) when the
    student already has the assignment's pending_limit waiting or running.
    The message goes to the broker now only if none of the student's other
    uploads is in flight; otherwise it waits its turn (grader.services.dispatch).
    """
    with sessions() as session:
        assignment_id = _open_assignment_id(session, assignment_slug)
        check_on_time(session, assignment_id, user_id, utcnow(), settings)
        limit = _check_pending(session, assignment_id, user_id, settings)  # early: refuse before any work
    limits = UploadLimits(max_bytes=settings.upload_max_bytes)
    check_whole(
        filename,
        data,
        limits,
        settings.run_dir,
        at_once=settings.upload_checks_at_once,
        wait_seconds=settings.upload_check_wait_seconds,
    )
    sha = store.put(data)
    now = utcnow()
    with transaction(sessions) as session:
        lock_student(session, user_id)  # two concurrent uploads cannot both pass the bound
        _check_pending(session, assignment_id, user_id, settings, limit)
        submission = Submission(
            user_id=user_id,
            assignment_id=assignment_id,
            filename=_base_name(filename),
            blob_sha256=sha,
            size_bytes=len(data),
            state=State.QUEUED,
            created_at=now,
            queued_at=now,
            feedback=level_for_upload(session, assignment_id, user_id, now, settings),  # decided once, here
        )
        session.add(submission)
        session.flush()
        submission_id = submission.id
        dispatched = claim_dispatch(session, user_id)  # this one, unless another of the student's is in flight
    # After the commit: a worker that gets the message always finds the row and the blob.
    if dispatched is not None:
        queue.enqueue(dispatched)
    return submission_id


def _check_pending(
    session: Session, assignment_id: int, user_id: int, settings: Settings, limit: int | None = None
) -> int:
    """Refuse the upload if the student has the assignment's pending_limit waiting or running; return the limit."""
    assignment = session.get_one(Assignment, assignment_id)
    if limit is None:
        limit = pending_limit(assignment, course_timezone(settings))
    check_pending_limit(session, user_id, assignment, limit)
    return limit


def _open_assignment_id(session: Session, slug: str) -> int:
    """Return the id of the published assignment `slug`; BadSubmission if there is none."""
    row = session.execute(select(Assignment.id, Assignment.published).where(Assignment.slug == slug)).first()
    if row is None or not row.published:
        shown = slug if slug.replace("-", "").replace("_", "").isalnum() and len(slug) <= 64 else "this"
        raise BadSubmission(f"There is no open assignment {shown!r} to submit to.", f"assignment {slug!r}: {row}")
    return row.id


def check_on_time(session: Session, assignment_id: int, user_id: int, now: dt.datetime, settings: Settings) -> None:
    """Refuse an upload before the assignment opens or after the student's last accepted moment."""
    assignment = session.get_one(Assignment, assignment_id)
    if assignment.policy is None and assignment.due_at is None:
        return  # no deadline: always accepted (an old row dated in its columns alone: read_policy derives it)
    try:
        tz = course_timezone(settings)
        policy = read_policy(assignment, tz)
    except SpecError as exc:  # staff's to fix; the student is told it is not their fault
        raise BadSubmission(
            "This assignment cannot take submissions right now because of a problem in its settings; "
            "staff have been told. Try again later.",
            f"assignment {assignment.slug}: {exc.staff_detail}",
        ) from None
    if policy is None:
        return
    row = session.scalars(
        select(Extension).where(Extension.assignment_id == assignment_id, Extension.user_id == user_id)
    ).first()
    extension = ExtensionSpec(row.due_at, row.last_accepted_at, row.reason) if row is not None else None
    acceptance = check_acceptance(now, policy.deadlines(extension), tz)
    if not acceptance.accepted:
        raise BadSubmission(acceptance.student_message, f"assignment {assignment.slug}: {acceptance.staff_detail}")


def check_whole(
    filename: str, data: bytes, limits: UploadLimits, scratch: Path, *, at_once: int, wait_seconds: float
) -> None:
    """Run every check grading will run (zip safety, notebook conversion) in a throwaway folder.

    At most `at_once` uploads are unpacked at a time on this machine, so
    concurrent uploads cannot fill the scratch space (a tmpfs, in memory).
    """
    with (
        unpacking_slot(scratch, at_once, wait_seconds),
        tempfile.TemporaryDirectory(prefix="upload-", dir=scratch) as folder,
    ):
        try:
            prepare_submission(filename, data, Path(folder), limits)
        except OSError as exc:  # the checks refuse every name a disk could not take: this one is ours
            raise InfrastructureError(f"checking upload {filename!r}: {exc}", BUSY) from None


@contextlib.contextmanager
def unpacking_slot(scratch: Path, slots: int, wait_seconds: float) -> Iterator[None]:
    """Hold one of `slots` slots to unpack an upload in; InfrastructureError if none frees up in `wait_seconds`.

    A slot is an flock on a file in scratch: every web process of the machine
    shares them, and the kernel frees the slot of a process that died.
    """
    folder = scratch / "upload-slots"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        for number in range(max(1, slots)):
            with open(folder / f"{number}.lock", "a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                yield  # closing the file releases the lock
                return
        if time.monotonic() >= deadline:
            raise InfrastructureError(f"all {slots} upload-check slots stayed busy for {wait_seconds:g} s", BUSY)
        time.sleep(0.05)


def _base_name(filename: str) -> str:
    """The upload's own name, never a client's path, at most 255 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "submission"
    return name[-255:]
