"""Re-run submissions: train an earlier upload again, at low priority, without losing its first result.

A re-run is a new Submission row pointing at the first row of its chain
(`rerun_of_id`), with the same student, assignment, file and blob, and the
upload's own `created_at`, so deadlines still judge when the student handed
it in. The newest row of a chain is the one in force; earlier rows are its
history and are never overwritten. Rows are committed first, then sent to
the `rerun` queue, which workers consume after first runs, so a re-run of a
whole class never delays a student's fresh upload.

A chain whose newest row is still queued or running is not queued again:
clicking twice, or two TAs at once, asks for one run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from grader.db import transaction
from grader.models import State, Submission, User, utcnow
from grader.services.overrides import ActionRefused
from grader.services.queue import GradingQueue

MAX_PER_REQUEST = 1000


@dataclasses.dataclass(frozen=True)
class RerunReport:
    """What a re-run request did: new rows (asked id -> new id) and what it skipped, with why."""

    queued: dict[int, int]
    skipped: dict[int, str]

    def summary(self) -> str:
        parts = []
        if self.queued:
            new = ", ".join(f"#{new}" for new in self.queued.values())
            parts.append(f"Queued {len(self.queued)} re-run(s) at low priority: {new}.")
        for sid, why in self.skipped.items():
            parts.append(f"#{sid}: {why}")
        return " ".join(parts) or "Nothing to re-run."


def chain_root(sub: Submission) -> int:
    """The id of the first row of a submission's chain (the upload itself)."""
    return sub.rerun_of_id or sub.id


def chain_rows(session: Session, root_id: int) -> list[Submission]:
    """Return every row of a chain, the upload first and the row in force last."""
    query = (
        select(Submission)
        .where(or_(Submission.id == root_id, Submission.rerun_of_id == root_id))
        .order_by(Submission.id)
    )
    return list(session.scalars(query))


def row_in_force(session: Session, sub: Submission) -> int:
    """The id of the row that counts in this submission's chain (its newest)."""
    root = chain_root(sub)
    query = select(func.max(Submission.id)).where(or_(Submission.id == root, Submission.rerun_of_id == root))
    return session.scalar(query) or sub.id


def _plan(session: Session, submission_id: int, staff: User) -> tuple[Submission | None, str]:
    """Return the new row for this submission's chain (not added yet), or None and why not."""
    sub = session.get(Submission, submission_id)
    if sub is None:
        return None, "there is no such submission."
    root_id = chain_root(sub)
    # Lock the upload's row: two requests for one chain wait for each other, and the second sees the first's row.
    root = session.scalars(select(Submission).where(Submission.id == root_id).with_for_update()).one()
    newest = chain_rows(session, root_id)[-1]
    if not newest.state.is_final:
        what = "a re-run" if newest.rerun_of_id else "its first run"
        return None, f"already waiting for {what} (#{newest.id}, {newest.state.value}); not queued twice."
    row = Submission(
        user_id=root.user_id,
        assignment_id=root.assignment_id,
        filename=root.filename,
        blob_sha256=root.blob_sha256,
        size_bytes=root.size_bytes,
        state=State.QUEUED,
        created_at=root.created_at,
        queued_at=utcnow(),
        rerun_of_id=root.id,
        requested_by_id=staff.id,
    )
    return row, ""


def request_reruns(
    sessions: sessionmaker[Session], queue: GradingQueue, *, submission_ids: Iterable[int], staff_id: int
) -> RerunReport:
    """Add a queued re-run row per chain of these submissions, commit, then enqueue each on the rerun queue.

    Raise ActionRefused when the requester is not staff or asks for nothing or too much at once.
    """
    wanted = list(dict.fromkeys(int(sid) for sid in submission_ids))
    if not wanted:
        raise ActionRefused("Choose at least one submission to re-run.")
    if len(wanted) > MAX_PER_REQUEST:
        raise ActionRefused(f"{len(wanted)} submissions at once is too many; re-run at most {MAX_PER_REQUEST}.")
    queued: dict[int, int] = {}
    skipped: dict[int, str] = {}
    with transaction(sessions) as session:
        staff = session.get(User, staff_id)
        if staff is None or not staff.role.is_staff:
            raise ActionRefused("Only TAs and instructors may re-run submissions.")
        for sid in wanted:
            row, why = _plan(session, sid, staff)
            if row is None:
                skipped[sid] = why
                continue
            session.add(row)
            session.flush()  # the next submission of the same chain now sees this row as waiting
            queued[sid] = row.id
    for new_id in queued.values():  # after the commit: a worker always finds the row
        queue.enqueue(new_id, rerun=True)
    return RerunReport(queued, skipped)
