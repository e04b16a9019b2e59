"""A TA's override of one submission's score, kept as an append-only audit trail.

Every change is a new `Override` row (who, when, the score in force before,
the score after, why); nothing is updated or deleted. The newest row of a
submission is in force; a row with `points_after` None withdraws the override,
so the rubric's score is in force again. The reason is required: the student
sees it next to the changed score.

An override belongs to the run it was made on. When a submission is re-run,
the new run (the newest row of the chain, see grader.services.reruns) counts,
with its own score; an override of an earlier run stays in its history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.core.errors import GraderError
from grader.models import Override, Submission, User, utcnow

MAX_REASON_CHARS = 2000


class ActionRefused(GraderError):
    """A staff action that cannot be done as asked; `field` names the form field at fault ("" for none).

    The message says what is wrong and what to do; staff read it, so one text serves both audiences.
    """

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class OverrideView:
    """An override in force, as the student and the API see it."""

    points: float
    reason: str
    by: str  # the TA's name, or their email when they have no name
    at: dt.datetime

    def to_json(self) -> dict[str, object]:
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=dt.timezone.utc)
        return {"points": self.points, "reason": self.reason, "by": self.by, "at": at.isoformat()}


def display_name(user: User) -> str:
    """How a member of staff is named to students: their name, else their email."""
    return user.name.strip() or user.email


def audit_trail(session: Session, submission_id: int) -> list[Override]:
    """Return every override row of the submission, oldest first."""
    query = select(Override).where(Override.submission_id == submission_id).order_by(Override.id)
    return list(session.scalars(query))


def override_in_force(session: Session, submission_id: int) -> Override | None:
    """Return the newest override row if it sets points; None when there is none or it was withdrawn."""
    query = select(Override).where(Override.submission_id == submission_id).order_by(Override.id.desc()).limit(1)
    newest = session.scalars(query).first()
    return newest if newest is not None and newest.points_after is not None else None


def view(row: Override | None) -> OverrideView | None:
    """Return what students see of an override in force."""
    if row is None or row.points_after is None:
        return None
    return OverrideView(row.points_after, row.reason, display_name(row.by), row.at)


def score_in_force(session: Session, submission: Submission) -> float | None:
    """Return the override's points if one is in force, else the rubric's score."""
    row = override_in_force(session, submission.id)
    return row.points_after if row is not None else submission.score


def parse_points(raw: object, max_score: float) -> float:
    """Read points typed into a form (or given as a number); raise ActionRefused saying what is wrong."""
    text = str(raw).strip() if raw is not None else ""
    if not text:
        raise ActionRefused(f"Enter the new score: a number from 0 to {max_score:g}.", "points")
    try:
        points = float(text.replace(",", "."))  # a decimal comma is how many people type 7,5
    except ValueError:
        problem = f"The score must be a number from 0 to {max_score:g}, like 7.5; got {text[:40]!r}."
        raise ActionRefused(problem, "points") from None
    if not math.isfinite(points) or not 0 <= points <= max_score:
        raise ActionRefused(
            f"The score must be from 0 to {max_score:g} (this submission's maximum); got {text[:40]}.", "points"
        )
    return round(points, 4)


def parse_reason(raw: object) -> str:
    """Return the trimmed reason; raise ActionRefused when it is empty or too long."""
    reason = str(raw or "").strip()
    if not reason:
        raise ActionRefused("A reason is required: the student sees it next to the score.", "reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ActionRefused(f"The reason is {len(reason)} characters long; keep it under {MAX_REASON_CHARS}.", "reason")
    return reason


def _locked_submission(session: Session, submission_id: int) -> Submission:
    """Return the submission, locked until the transaction ends, so two TAs' changes see each other's 'before'."""
    sub = session.scalars(select(Submission).where(Submission.id == submission_id).with_for_update()).first()
    if sub is None:
        raise ActionRefused(f"There is no submission #{submission_id}.", "submission")
    return sub


def _check_overridable(session: Session, sub: Submission) -> float:
    """Refuse submissions that cannot take an override; return the maximum score."""
    if not sub.state.is_final:
        raise ActionRefused(f"Submission #{sub.id} is still {sub.state.value}; override it once it is graded.")
    chain = sub.rerun_of_id or sub.id
    newest = session.scalar(
        select(Submission.id)
        .where((Submission.id == chain) | (Submission.rerun_of_id == chain))
        .order_by(Submission.id.desc())
        .limit(1)
    )
    if newest != sub.id:
        raise ActionRefused(f"Submission #{sub.id} was re-run; its newest run #{newest} counts: override that one.")
    max_score = sub.max_score if sub.max_score is not None else (sub.result or {}).get("max_score")
    if max_score is None:
        raise ActionRefused(f"Submission #{sub.id} has no maximum score (it was never scored); re-run it first.")
    return float(max_score)


def _require_staff(staff: User) -> None:
    if not staff.role.is_staff:
        raise ActionRefused("Only TAs and instructors may change scores.")


def override_score(
    session: Session, *, submission_id: int, staff: User, points: object, reason: object, now: dt.datetime | None = None
) -> Override:
    """Set a submission's score, with a reason; add the audit row (the caller commits)."""
    _require_staff(staff)
    reason_text = parse_reason(reason)
    sub = _locked_submission(session, submission_id)
    max_score = _check_overridable(session, sub)
    new_points = parse_points(points, max_score)
    row = Override(
        submission_id=sub.id,
        by_id=staff.id,
        at=now or utcnow(),
        points_before=score_in_force(session, sub),
        points_after=new_points,
        reason=reason_text,
    )
    session.add(row)
    session.flush()
    return row


def withdraw_override(
    session: Session, *, submission_id: int, staff: User, reason: object, now: dt.datetime | None = None
) -> Override:
    """Withdraw the override in force, with a reason, so the rubric's score counts again (the caller commits)."""
    _require_staff(staff)
    reason_text = parse_reason(reason)
    sub = _locked_submission(session, submission_id)
    current = override_in_force(session, sub.id)
    if current is None:
        raise ActionRefused(f"Submission #{sub.id} has no override in force to withdraw.")
    row = Override(
        submission_id=sub.id,
        by_id=staff.id,
        at=now or utcnow(),
        points_before=current.points_after,
        points_after=None,
        reason=reason_text,
    )
    session.add(row)
    session.flush()
    return row
