"""How much of a submission its student sees: the daily limit (grader.core.policy.daily) applied to stored rows.

Each re-run chain is one attempt (a re-run is the same upload trained again,
not another try), dated by its upload and judged by its row in force. Days
are calendar days in the course's time zone (rubrics/course.yaml). Staff
always see everything; this only narrows what a student sees.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.config import Settings
from grader.core.errors import SpecError
from grader.core.outcomes import Status
from grader.core.policy.daily import FeedbackLevel, feedback_levels, remaining_today
from grader.core.policy.selection import Attempt
from grader.core.policy.settings import parse_policy
from grader.models import Assignment, State, Submission, utcnow
from grader.services import course_grades

log = logging.getLogger("grader.web")
UTC = dt.timezone.utc


@dataclasses.dataclass(frozen=True)
class Feedback:
    """A submission's feedback level and, when narrowed, the words that say why and what remains."""

    level: FeedbackLevel
    message: str = ""

    def to_json(self) -> dict[str, str]:
        return {"level": self.level.value, "message": self.message}


FULL = Feedback(FeedbackLevel.FULL)


def course_timezone(settings: Settings) -> dt.tzinfo:
    """The course's time zone for counting days; UTC (logged) when the course file is missing or wrong."""
    try:
        return course_grades.course_timezone(settings)
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


_STATUS_OF = {State.SCORED: Status.SCORED, State.FAILED: Status.FAILED, State.ERROR: Status.ERROR}


def chain_attempts(rows: Sequence[Submission]) -> tuple[list[Attempt], dict[int, int]]:
    """One Attempt per chain (its upload time, its row in force's status), and each row id's chain id."""
    chains: dict[int, list[Submission]] = {}
    for row in rows:
        chains.setdefault(row.rerun_of_id or row.id, []).append(row)
    attempts, chain_of = [], {}
    for root, members in chains.items():
        members.sort(key=lambda r: r.id)
        in_force = members[-1]
        status = _STATUS_OF.get(in_force.state)
        attempts.append(Attempt(root, members[0].created_at, status, in_force.score, in_force.max_score or 0.0))
        chain_of.update({m.id: root for m in members})
    return attempts, chain_of


def student_feedback(
    session: Session, user_id: int, assignment: Assignment, tz: dt.tzinfo, now: dt.datetime | None = None
) -> dict[int, Feedback]:
    """Each of this student's submissions of the assignment (every row) with what the student may see of it."""
    limit = daily_limit(assignment, tz)
    if limit is None:
        return {}
    query = select(Submission).where(Submission.user_id == user_id, Submission.assignment_id == assignment.id)
    attempts, chain_of = chain_attempts(list(session.scalars(query)))
    levels = feedback_levels(attempts, limit, tz)
    quota = remaining_today(attempts, now or utcnow(), limit, tz)
    narrowed = Feedback(
        FeedbackLevel.STATUS,
        f"{FeedbackLevel.STATUS.describe()} {quota.message} Tomorrow you have {limit} again.",
    )
    return {sid: narrowed if levels[root] is FeedbackLevel.STATUS else FULL for sid, root in chain_of.items()}
