"""A TA's override of an upload's score, kept as an append-only audit trail.

Every change is a new `Override` row (who, when, the score in force before,
the score after, why, and the run it was made on); nothing is updated or
deleted. The reason is required: the student sees it next to the score.

An override belongs to the upload, not to one run of it: to the re-run chain
(the upload's row and its re-runs, which point at it through `rerun_of_id`,
see grader.services.reruns). The chain's newest Override row, whichever run
it was made on, is in force when it sets points; a row with `points_after`
None withdraws the override, so the newest run's rubric score counts again.
An override stays in force across re-runs until a TA withdraws or replaces
it, so re-running a chain with an override in force first asks the TA which
of the two should count (grader.services.reruns).

`score_in_force` and `points_in_force` are the one rule every page, the
grades and the course grade use for "the score that counts".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence

from sqlalchemy import ColumnElement, ScalarSelect, Select, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

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
    """An override in force, as the student and the API see it; `run` is the run it was made on."""

    points: float
    reason: str
    by: str  # the TA's name, or their email when they have no name
    at: dt.datetime
    run: int

    def to_json(self) -> dict[str, object]:
        return {"points": self.points, "reason": self.reason, "by": self.by, "at": _iso(self.at), "run": self.run}


@dataclasses.dataclass(frozen=True)
class ScoreInForce:
    """What counts for one upload: an override in force, else the rubric's score of its newest run.

    `rerun_at` is set when a run newer than the one the override was made on was asked for:
    the override still counts over that run's score.
    """

    points: float | None
    run: int  # the newest row of the chain
    override: OverrideView | None
    rerun_at: dt.datetime | None = None

    def override_json(self) -> dict[str, object] | None:
        """The override as the API shows it, with when the upload was re-run since (or None)."""
        if self.override is None:
            return None
        return {**self.override.to_json(), "rerun_at": _iso(self.rerun_at), "rerun_on": rerun_day(self.rerun_at)}


def _iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite drops the zone: stored moments are UTC)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).isoformat()


def rerun_day(moment: dt.datetime | None) -> str | None:
    """The day of a re-run as pages show dates (UTC)."""
    return None if moment is None else moment.strftime("%Y-%m-%d")


def display_name(user: User) -> str:
    """How a member of staff is named to students: their name, else their email."""
    return user.name.strip() or user.email


def upload_id(sub: Submission) -> int:
    """The id of the first row of a submission's re-run chain (the upload itself)."""
    return sub.rerun_of_id or sub.id


def _in_chain(run: type[Submission] | Submission, root: int | ColumnElement[int]) -> ColumnElement[bool]:
    """SQL: this submission row belongs to the chain whose first row is `root`."""
    return or_(run.id == root, run.rerun_of_id == root)


def _chain_overrides(session: Session, submission_id: int) -> Select[tuple[Override]]:
    """A query of the override rows of the chain holding this submission (none for an unknown id)."""
    root = session.scalar(
        select(func.coalesce(Submission.rerun_of_id, Submission.id)).where(Submission.id == submission_id)
    )
    run = aliased(Submission)
    return (
        select(Override)
        .options(joinedload(Override.by))
        .join(run, run.id == Override.submission_id)
        .where(_in_chain(run, root if root is not None else -1))
    )


def audit_trail(session: Session, submission_id: int) -> list[Override]:
    """Return every override row of the submission's upload (all runs of its chain), oldest first."""
    return list(session.scalars(_chain_overrides(session, submission_id).order_by(Override.id)))


def override_in_force(session: Session, submission_id: int) -> Override | None:
    """Return the chain's newest override row if it sets points; None when there is none or it was withdrawn."""
    newest = session.scalars(_chain_overrides(session, submission_id).order_by(Override.id.desc()).limit(1)).first()
    return newest if newest is not None and newest.points_after is not None else None


def overrides_in_force(session: Session, rows: Sequence[Submission]) -> dict[int, Override]:
    """Return each row's chain's override in force, keyed by the row's id, in a few queries."""
    roots = {upload_id(row) for row in rows}
    newest: dict[int, Override] = {}
    ordered = sorted(roots)
    run = aliased(Submission)
    chain = func.coalesce(run.rerun_of_id, run.id)
    for start in range(0, len(ordered), 450):  # stay under SQLite's bound-parameter limit (each root twice)
        chunk = ordered[start : start + 450]
        query = (
            select(chain, Override)
            .join(run, run.id == Override.submission_id)
            .options(joinedload(Override.by))
            .where(or_(run.id.in_(chunk), run.rerun_of_id.in_(chunk)))
            .order_by(Override.id)
        )
        for root, row in session.execute(query):
            newest[root] = row
    found = {row.id: newest.get(upload_id(row)) for row in rows}
    return {sid: row for sid, row in found.items() if row is not None and row.points_after is not None}


def newest_override_id() -> ScalarSelect[int]:
    """SQL: the id of the newest override row of the chain of the `Submission` row of the enclosing query."""
    run = aliased(Submission)
    chain = func.coalesce(Submission.rerun_of_id, Submission.id)
    return (
        select(func.max(Override.id))
        .join(run, run.id == Override.submission_id)
        .where(_in_chain(run, chain))
        .scalar_subquery()
    )


def view(row: Override | None) -> OverrideView | None:
    """Return what students see of an override in force."""
    if row is None or row.points_after is None:
        return None
    return OverrideView(row.points_after, row.reason, display_name(row.by), row.at, row.submission_id)


def points_in_force(row: Submission, override: Override | None) -> float | None:
    """The points that count for a chain's row: the chain's override in force, else the row's rubric score."""
    if override is not None and override.points_after is not None:
        return override.points_after
    return row.score


def chain_score(session: Session, sub: Submission) -> ScoreInForce:
    """Return what counts for the upload `sub` belongs to, whichever of its runs `sub` is."""
    root = upload_id(sub)
    runs = list(session.scalars(select(Submission).where(_in_chain(Submission, root)).order_by(Submission.id)))
    newest = runs[-1] if runs else sub
    row = override_in_force(session, sub.id)
    rerun_at = None
    if row is not None:
        later = [run for run in runs if run.id > row.submission_id]
        if later:
            rerun_at = later[-1].queued_at or later[-1].created_at
    return ScoreInForce(points_in_force(newest, row), newest.id, view(row), rerun_at)


def score_in_force(session: Session, submission: Submission) -> float | None:
    """Return the upload's override points if one is in force, else the rubric's score of its newest run."""
    return chain_score(session, submission).points


def student_notice(state: ScoreInForce, sub: Submission) -> str | None:
    """The one notice a student reads about which score of an upload counts, seen from its run `sub`."""
    if state.override is not None:
        text = f"Score set to {state.override.points:g} by {state.override.by}: {state.override.reason}"
        if state.rerun_at is not None:
            run = f" (run #{state.run})" if state.run != sub.id else ""
            text += f" Re-run on {rerun_day(state.rerun_at)}{run}: the override still counts."
        return text
    if state.run != sub.id:
        return (
            f"Staff re-ran this upload: run #{state.run} is the one that counts;"
            " this earlier result is kept for the record."
        )
    if sub.rerun_of_id:
        return f"A re-run, requested by staff, of your upload #{sub.rerun_of_id}; this run is the one that counts."
    return None


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
    """Refuse runs that cannot take an override; return the maximum score.

    The override is the upload's, made on its newest graded run: a newer run still queued or running
    does not block it (the override counts over that run too, once it is done).
    """
    if not sub.state.is_final:
        raise ActionRefused(f"Submission #{sub.id} is still {sub.state.value}; override it once it is graded.")
    runs = session.scalars(select(Submission).where(_in_chain(Submission, upload_id(sub))).order_by(Submission.id))
    newest = newest_graded(runs.all())
    if newest != sub.id:
        raise ActionRefused(f"Submission #{sub.id} was re-run; its newest run #{newest} counts: override that one.")
    max_score = sub.max_score if sub.max_score is not None else (sub.result or {}).get("max_score")
    if max_score is None:
        raise ActionRefused(f"Submission #{sub.id} has no maximum score (it was never scored); re-run it first.")
    return float(max_score)


def newest_graded(runs: Sequence[Submission]) -> int | None:
    """The run of a chain (oldest first) that takes the upload's override: its newest graded one."""
    return next((run.id for run in reversed(runs) if run.state.is_final), None)


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
        points_before=points_in_force(sub, override_in_force(session, sub.id)),
        points_after=new_points,
        reason=reason_text,
    )
    session.add(row)
    session.flush()
    return row


def withdraw_override(
    session: Session, *, submission_id: int, staff: User, reason: object, now: dt.datetime | None = None
) -> Override:
    """Withdraw the upload's override in force, with a reason, so the rubric's score counts again (the caller commits)."""
    _require_staff(staff)
    reason_text = parse_reason(reason)
    sub = _locked_submission(session, submission_id)
    current = override_in_force(session, sub.id)
    if current is None:
        raise ActionRefused(f"Submission #{sub.id} has no override in force to withdraw.")
    return add_withdrawal(session, run=sub, current=current, staff=staff, reason=reason_text, now=now)


def add_withdrawal(
    session: Session, *, run: Submission, current: Override, staff: User, reason: str, now: dt.datetime | None = None
) -> Override:
    """Add the row that withdraws `current`, made on `run` (checked reason; the caller commits)."""
    row = Override(
        submission_id=run.id,
        by_id=staff.id,
        at=now or utcnow(),
        points_before=current.points_after,
        points_after=None,
        reason=reason,
    )
    session.add(row)
    session.flush()
    return row
