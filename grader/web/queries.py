"""Database reads the views share, each scoped to what the asking user may see."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.models import Assignment, Submission, User


def published_assignments(session: Session) -> list[Assignment]:
    """Return the published assignments, soonest deadline first."""
    query = select(Assignment).where(Assignment.published.is_(True))
    return sorted(session.scalars(query), key=lambda a: (a.due_at is None, a.due_at or 0, a.slug))


def visible_submission(session: Session, user: User, submission_id: int) -> Submission | None:
    """Return the submission if it belongs to `user` (staff see all), else None."""
    sub = session.get(Submission, submission_id)
    if sub is None or (sub.user_id != user.id and not user.role.is_staff):
        return None
    return sub


def own_submissions(session: Session, user: User) -> list[Submission]:
    """Return the user's submissions, newest first."""
    query = select(Submission).where(Submission.user_id == user.id).order_by(Submission.id.desc())
    return list(session.scalars(query))
