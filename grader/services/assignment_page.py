"""What a student reads on an assignment's page: its dates for them, the late window, the rubric, the starter.

Dates come from the one policy in force (grader.services.assignment_dates)
with the student's own extension applied, exactly as grading applies them;
the rubric is the one in force (the newest revision, else the file), in
words (grader.core.rubric.summary). A mistake in staff's files never breaks
the page: the part that cannot be read says so, the rest still shows, and the
detail goes to the log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.assignments import locate_assignment
from grader.config import Settings
from grader.core.errors import SpecError
from grader.core.policy import AssignmentPolicy, describe_window
from grader.core.policy.timing import aware, format_moment
from grader.core.rubric.summary import RubricSummary, summarise_rubric
from grader.models import Assignment, Extension
from grader.services.assignment_dates import policy_in_force
from grader.services.grades import extension_spec
from grader.services.rubrics import rubric_in_force

log = logging.getLogger("grader.web")
# The files of an assignment folder a student may download (grader.assignments.REQUIRED_FILES has them
# in every folder). Only these names are ever served: a request names one of them, never a path.
STARTER_FILES = ("starter.py",)
STATEMENT = "README.md"
UNREADABLE_SETTINGS = "The dates of this assignment cannot be shown right now; staff have been told."
UNREADABLE_RUBRIC = "How this assignment is graded cannot be shown right now; staff have been told."


@dataclasses.dataclass(frozen=True)
class StudentDates:
    """One student's dates of one assignment, as sentences and as moments (for countdowns)."""

    due_at: dt.datetime | None  # None: no deadline
    due: str  # "Due 13 Feb 2025 23:59 UTC" or "No deadline: every submission is accepted."
    opens: str = ""  # "Opens 20 Jan 2025 09:00 UTC" while it is not open yet
    extension: str = ""  # "Your due date is extended to ...: reason"
    late: str = ""  # describe_window: the late window and its penalty
    problem: str = ""  # the settings cannot be read


def student_dates(
    session: Session, assignment: Assignment, user_id: int | None, tz: dt.tzinfo, now: dt.datetime
) -> StudentDates:
    """Return the dates that apply to this student (their extension included); user_id None: the course's."""
    try:
        policy = policy_in_force(assignment, tz)
    except SpecError as exc:
        log.warning("assignment %s: settings unreadable: %s", assignment.slug, exc.staff_detail)
        return StudentDates(None, "", problem=UNREADABLE_SETTINGS)
    if policy is None:
        return StudentDates(None, "No deadline: every submission is accepted.")
    return _dates(policy, _extension(session, assignment.id, user_id), tz, now)


def _dates(policy: AssignmentPolicy, row: Extension | None, tz: dt.tzinfo, now: dt.datetime) -> StudentDates:
    extension = extension_spec(row) if row is not None else None
    deadlines = policy.deadlines(extension)
    opens = ""
    if deadlines.opens_at is not None and aware(now) < deadlines.opens_at:
        opens = f"Opens {format_moment(deadlines.opens_at, tz)}; nothing is accepted before."
    granted = ""
    if extension is not None:
        reason = f" ({extension.reason})" if extension.reason else ""
        granted = (
            f"Your due date is extended from {format_moment(policy.due_at, tz)} "
            f"to {format_moment(extension.due_at, tz)}{reason}."
        )
    due = f"Due {format_moment(deadlines.due_at, tz)}"
    return StudentDates(deadlines.due_at, due, opens, granted, describe_window(deadlines, policy.late, tz))


def _extension(session: Session, assignment_id: int, user_id: int | None) -> Extension | None:
    if user_id is None:
        return None
    query = select(Extension).where(Extension.assignment_id == assignment_id, Extension.user_id == user_id)
    return session.scalars(query).first()


def rubric_summary(session: Session, assignment: Assignment, settings: Settings) -> RubricSummary | None:
    """The rubric in force in words, with today's reference values; None (logged) when it cannot be read."""
    try:
        rubric = rubric_in_force(session, assignment, settings)
    except SpecError as exc:
        log.warning("assignment %s: rubric unreadable: %s", assignment.slug, exc.staff_detail)
        return None
    return summarise_rubric(rubric, assignment.references)


def assignment_folder(assignment: Assignment, settings: Settings) -> Path | None:
    """The assignment's folder (the course's, else an uploaded one), or None when it is gone."""
    found = locate_assignment(assignment.slug, settings)
    return found[0] if found is not None else None


def statement_text(assignment: Assignment, settings: Settings) -> str | None:
    """The statement (README.md of the folder) as written; None when it cannot be read."""
    folder = assignment_folder(assignment, settings)
    if folder is None:
        return None
    try:
        return (folder / STATEMENT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("assignment %s: statement unreadable: %s", assignment.slug, exc)
        return None


def starter_files(assignment: Assignment, settings: Settings) -> list[str]:
    """The starter files this assignment offers (those of STARTER_FILES its folder has)."""
    folder = assignment_folder(assignment, settings)
    if folder is None:
        return []
    return [name for name in STARTER_FILES if (folder / name).is_file()]


def starter_path(assignment: Assignment, settings: Settings, name: str) -> Path | None:
    """The file to send for a starter download, or None: only a declared starter's exact name is ever served."""
    if name not in STARTER_FILES:
        return None
    folder = assignment_folder(assignment, settings)
    if folder is None:
        return None
    path = folder / name
    return path if path.is_file() and not path.is_symlink() else None
