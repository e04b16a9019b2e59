"""How much of a submission its student sees now, in the words the pages and the API show.

The level is decided at upload and stored (grader.core.policy.daily,
grader.services.feedback); a status-level score stays hidden until the
assignment closes for the student, then shows. Staff always see everything;
this only narrows what a student sees.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from grader.config import Settings
from grader.core.policy.daily import FeedbackLevel, Visibility
from grader.models import Assignment, utcnow
from grader.services.feedback import quota_today, safe_course_timezone, student_visibility


@dataclasses.dataclass(frozen=True)
class Feedback:
    """What the student sees of a submission now: `level` STATUS while its score is hidden, and why."""

    level: FeedbackLevel
    message: str = ""
    hidden_until: dt.datetime | None = None  # while hidden: the moment it shows (None: no closing moment yet)
    hidden: str = ""  # while hidden: "hidden until 13 Feb 2025 23:59 CET", for the status line

    def to_json(self) -> dict[str, str | None]:
        until = self.hidden_until.isoformat() if self.hidden_until else None
        return {"level": self.level.value, "message": self.message, "hidden_until": until, "hidden": self.hidden}


FULL = Feedback(FeedbackLevel.FULL)


def course_timezone(settings: Settings) -> dt.tzinfo:
    """The course's time zone for counting days; UTC (logged) when the course file is missing or wrong."""
    return safe_course_timezone(settings)


def _words(seen: Visibility, tz: dt.tzinfo, quota_message: str) -> Feedback:
    """The student's words for one row: hidden (until when, and today's quota), shown after closing, or full."""
    if seen.level is FeedbackLevel.FULL:
        return FULL
    if seen.shown:
        return Feedback(
            FeedbackLevel.FULL,
            "Uploaded over that day's limit of fully graded submissions; its score shows now that the "
            "assignment has closed for you.",
        )
    hidden = seen.words(tz)
    message = (
        f"{FeedbackLevel.STATUS.describe()} Its score, criteria, metrics and output are {hidden}, "
        f"when the assignment closes for you. {quota_message}"
    )
    until = seen.until.astimezone(dt.timezone.utc) if seen.until else None
    return Feedback(FeedbackLevel.STATUS, message, until, hidden)


def student_feedback(
    session: Session, user_id: int, assignment: Assignment, tz: dt.tzinfo, now: dt.datetime | None = None
) -> dict[int, Feedback]:
    """Each of this student's submissions of the assignment (every row) with what the student may see of it now."""
    now = now or utcnow()
    seen = student_visibility(session, user_id, assignment, tz, now)
    if all(v.level is FeedbackLevel.FULL for v in seen.values()):
        return {sid: FULL for sid in seen}
    quota = quota_today(session, user_id, assignment, tz, now).message
    return {sid: _words(v, tz, quota) for sid, v in seen.items()}
