"""The daily limit on stored rows: the level decided at upload, today's quota, and what a student may see now.

The rule itself is grader.core.policy.daily; this module reads the rows it
needs. Only first uploads (rerun_of_id NULL) use the quota; a re-run copies
its upload's level (grader.services.reruns), so staff re-runs never use a
student's quota and never hide a score that was shown. Whether a row's score
may be seen now is grader.services.grades.student_may_see, here applied to a
student's rows of one assignment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import Settings
from grader.core.errors import SpecError
from grader.core.outcomes import Status
from grader.core.policy import FeedbackLevel, Quota, Visibility, level_at_upload, parse_policy, remaining_today
from grader.models import Assignment, Extension, State, Submission
from grader.services.course_grades import course_timezone
from grader.services.grades import Rules, assignment_policy, student_may_see

log = logging.getLogger("grader.services.feedback")
UTC = dt.timezone.utc
_STATUS = {State.SCORED: Status.SCORED, State.FAILED: Status.FAILED, State.ERROR: Status.ERROR}


@dataclasses.dataclass(frozen=True)
class Upload:
    """A first upload as the quota sees it."""

    submitted_at: dt.datetime
    status: Status | None  # None: not graded yet


def safe_course_timezone(settings: Settings) -> dt.tzinfo:
    """The course's time zone for counting days; UTC (logged) when the course file is wrong."""
    try:
        return course_timezone(settings)
    except SpecError as exc:
        log.warning("course file unusable, daily limits count days in UTC: %s", exc)
        return UTC


def daily_limit(assignment: Assignment, tz: dt.tzinfo) -> int | None:
    """The assignment's daily limit of fully graded submissions; None when it has none."""
    if not assignment.policy:
        return None
    try:
        return parse_policy(assignment.policy, f"assignment {assignment.slug}: policy", tz).daily_limit
    except SpecError as exc:  # saved through a validating form, so this is a bug; never hide a student's work for it
        log.warning("%s; no daily limit applied", exc)
        return None


def uploads_of(session: Session, user_id: int, assignment_id: int) -> list[Upload]:
    """The student's first uploads of the assignment (re-runs are no uploads), oldest first."""
    query = (
        select(Submission.created_at, Submission.state)
        .where(
            Submission.user_id == user_id,
            Submission.assignment_id == assignment_id,
            Submission.rerun_of_id.is_(None),
        )
        .order_by(Submission.id)
    )
    return [Upload(created_at, _STATUS.get(state)) for created_at, state in session.execute(query)]


def level_for_upload(session: Session, assignment_id: int, user_id: int, now: dt.datetime, settings: Settings) -> str:
    """The level to store on an upload made `now` (call it in the transaction that adds the row)."""
    assignment = session.get_one(Assignment, assignment_id)
    tz = safe_course_timezone(settings)
    limit = daily_limit(assignment, tz)
    return level_at_upload(uploads_of(session, user_id, assignment_id), now, limit, tz).value


def quota_today(session: Session, user_id: int, assignment: Assignment, tz: dt.tzinfo, now: dt.datetime) -> Quota:
    """What is left of the student's fully graded submissions of the assignment today."""
    return remaining_today(uploads_of(session, user_id, assignment.id), now, daily_limit(assignment, tz), tz)


def closes_at(session: Session, user_id: int, assignment: Assignment, tz: dt.tzinfo) -> dt.datetime | None:
    """The student's last accepted moment (their extension included); None when it has none or cannot be read.

    A broken stored policy gives None: a hidden score stays hidden (staff's to fix) rather than leak.
    """
    try:
        rules = Rules(assignment_policy(assignment, tz), None)
    except SpecError as exc:
        log.warning("assignment %s: %s; hidden scores stay hidden", assignment.slug, exc)
        return None
    extension = session.scalars(
        select(Extension).where(Extension.user_id == user_id, Extension.assignment_id == assignment.id)
    ).first()
    return rules.closes_at(extension)


def student_visibility(
    session: Session, user_id: int, assignment: Assignment, tz: dt.tzinfo, now: dt.datetime
) -> dict[int, Visibility]:
    """Each of the student's rows of the assignment (re-runs included) with whether its score may be seen now."""
    query = select(Submission).where(Submission.user_id == user_id, Submission.assignment_id == assignment.id)
    rows = list(session.scalars(query))
    if all(FeedbackLevel.stored(r.feedback) is FeedbackLevel.FULL for r in rows):
        return {r.id: Visibility(True, FeedbackLevel.FULL) for r in rows}  # the common case: no query for dates
    closes = closes_at(session, user_id, assignment, tz)
    return {r.id: student_may_see(r, closes, now) for r in rows}
