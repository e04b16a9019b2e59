"""Fair dispatch: each student has at most one first run in the broker, so the broker serves students in turn.

The broker is first-in-first-out. If every upload went straight to it, one
student's burst of forty uploads would sit ahead of everyone else's. Instead a
first run (an upload, not a staff re-run) is *dispatched* (its message sent,
`Submission.dispatched_at` set) only while none of that student's other first
runs is in flight (dispatched or running, and not final). The others wait in
the database, state queued with `dispatched_at` NULL, and the next one goes to
the broker when the one in flight ends. With one message per student in a FIFO
broker, workers take students round-robin.

Two rules keep this exact when many web processes and workers act at once:

- every decision about a student happens under a lock on that student's row
  (SELECT ... FOR NO KEY UPDATE on PostgreSQL; on SQLite a write takes the database's
  single writer lock), so two uploads, or an upload and a finishing worker,
  cannot both see "nothing in flight";
- a row is marked dispatched by a conditional UPDATE ... WHERE dispatched_at IS
  NULL, and only the caller whose UPDATE changed it sends the message (after
  the commit), so no row is ever sent twice by two dispatchers.

Each student's queued and running first runs of one assignment are also
bounded by the assignment's `pending_limit` (check_pending_limit). Staff
re-runs go straight to the low-priority `rerun` queue and are bound by neither rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.core.errors import BadSubmission, SpecError
from grader.core.policy.settings import DEFAULT_PENDING_LIMIT
from grader.db import transaction
from grader.models import Assignment, State, Submission, User, utcnow
from grader.services.queue import GradingQueue

FIRST_RUN = Submission.rerun_of_id.is_(None)
UNFINISHED = Submission.state.in_((State.QUEUED, State.RUNNING))
WAITING = and_(FIRST_RUN, Submission.state == State.QUEUED, Submission.dispatched_at.is_(None))
IN_BROKER = and_(FIRST_RUN, Submission.state == State.QUEUED, Submission.dispatched_at.is_not(None))
# In flight: its message is out (or a worker has it). A running row counts even if it was never
# dispatched (a message sent by hand), so a student can never have two first runs on workers at once.
IN_FLIGHT = and_(
    FIRST_RUN,
    or_(
        Submission.state == State.RUNNING, and_(Submission.state == State.QUEUED, Submission.dispatched_at.is_not(None))
    ),
)


class PendingLimitReached(BadSubmission):
    """The student already has as many submissions of the assignment waiting or running as it allows."""


def lock_student(session: Session, user_id: int) -> None:
    """Hold the student's row until the transaction ends, so dispatch decisions about them happen one at a time.

    PostgreSQL locks the row (SELECT ... FOR NO KEY UPDATE). SQLite has no row locks:
    a no-op write takes its one writer lock now, before anything is read, so
    the reads that follow see every other writer's committed work.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(User).where(User.id == user_id).values(name=User.name))
    else:
        # FOR NO KEY UPDATE: as exclusive among dispatchers, but it lets other transactions insert rows
        # that merely reference the student (their foreign-key check takes only a key-share lock).
        session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


def pending_limit(assignment: Assignment, tz: dt.tzinfo) -> int:
    """The assignment's bound on a student's queued and running submissions (the default without a policy)."""
    from grader.services.assignment_admin import read_policy

    try:
        policy = read_policy(assignment, tz)
    except SpecError:  # the upload path refuses a broken policy first; never fail open past the default
        return DEFAULT_PENDING_LIMIT
    return policy.pending_limit if policy is not None else DEFAULT_PENDING_LIMIT


def pending_count(session: Session, user_id: int, assignment_id: int) -> int:
    """How many first runs of this assignment the student has queued or running."""
    query = select(func.count()).where(
        Submission.user_id == user_id, Submission.assignment_id == assignment_id, FIRST_RUN, UNFINISHED
    )
    return session.scalar(query) or 0


def check_pending_limit(session: Session, user_id: int, assignment: Assignment, limit: int) -> None:
    """Refuse one more upload when the student already has `limit` of this assignment waiting or running.

    Race-free only inside a transaction that holds lock_student.
    """
    count = pending_count(session, user_id, assignment.id)
    if count < limit:
        return
    noun = "submission" if count == 1 else "submissions"
    raise PendingLimitReached(
        f"You have {count} {noun} of {assignment.title} waiting or running, the most this assignment allows "
        "at once. Upload again when one of them has finished.",
        f"assignment {assignment.slug}: user {user_id} has {count} pending (limit {limit})",
    )


def claim_dispatch(session: Session, user_id: int) -> int | None:
    """Mark the student's oldest waiting first run dispatched, if none of theirs is in flight; return its id.

    Call under lock_student, and send the message only after the commit.
    """
    busy = session.scalar(select(Submission.id).where(Submission.user_id == user_id, IN_FLIGHT).limit(1))
    if busy is not None:
        return None
    oldest = session.scalar(
        select(Submission.id).where(Submission.user_id == user_id, WAITING).order_by(Submission.id).limit(1)
    )
    if oldest is None:
        return None
    changed = session.execute(
        update(Submission)
        .where(Submission.id == oldest, WAITING)  # exactly once: only the dispatcher that changed the row sends it
        .values(dispatched_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return oldest if changed.rowcount == 1 else None


def dispatch_next(sessions: sessionmaker[Session], queue: GradingQueue, user_id: int) -> int | None:
    """Send the student's next waiting first run to the broker if nothing of theirs is in flight; return its id."""
    with transaction(sessions) as session:
        lock_student(session, user_id)
        submission_id = claim_dispatch(session, user_id)
    if submission_id is not None:  # after the commit: a worker always finds the row dispatched
        queue.enqueue(submission_id)
    return submission_id


def dispatch_idle_students(sessions: sessionmaker[Session], queue: GradingQueue) -> list[int]:
    """Dispatch for every student who has waiting first runs and none in flight (a lost dispatch); return the ids.

    A worker that died between writing a final state and dispatching the
    student's next upload leaves such a student; the periodic sweep calls this.
    """
    in_flight = select(Submission.id).where(Submission.user_id == User.id, IN_FLIGHT).exists()
    with sessions() as session:
        students = session.scalars(
            select(User.id).where(
                select(Submission.id).where(Submission.user_id == User.id, WAITING).exists(), ~in_flight
            )
        ).all()
    sent = [dispatch_next(sessions, queue, user_id) for user_id in students]
    return [submission_id for submission_id in sent if submission_id is not None]


@dataclasses.dataclass(frozen=True)
class Standing:
    """Where a queued submission stands.

    `position` is its place in the broker's queue (1: next), or None while it
    waits in the database behind `waiting_for`, the student's own earlier
    unfinished submissions; `in_queue` is how many dispatched first runs are
    ahead of whatever joins the queue now.
    """

    position: int | None
    waiting_for: tuple[int, ...] = ()
    in_queue: int = 0


def _before(submission: Submission) -> ColumnElement[bool]:
    """Dispatched before `submission` (ties broken by id, as the broker received them)."""
    return or_(
        Submission.dispatched_at < submission.dispatched_at,
        and_(Submission.dispatched_at == submission.dispatched_at, Submission.id < submission.id),
    )


def standing(session: Session, submission: Submission) -> Standing:
    """Where the queued `submission` stands: its real place in the broker's queue, or what it waits for."""
    in_queue = session.scalar(select(func.count()).where(IN_BROKER)) or 0
    if submission.rerun_of_id is not None:  # the rerun queue: served after every first run
        earlier = select(func.count()).where(
            Submission.rerun_of_id.is_not(None), Submission.state == State.QUEUED, Submission.id < submission.id
        )
        return Standing(1 + in_queue + (session.scalar(earlier) or 0), (), in_queue)
    if submission.dispatched_at is not None:
        ahead = session.scalar(select(func.count()).where(IN_BROKER, _before(submission))) or 0
        return Standing(1 + ahead, (), in_queue)
    own = session.scalars(
        select(Submission.id)
        .where(Submission.user_id == submission.user_id, FIRST_RUN, UNFINISHED, Submission.id < submission.id)
        .order_by(Submission.id)
    ).all()
    return Standing(None, tuple(own), in_queue)
