"""Database reads the views share, each scoped to what the asking user may see."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased

from grader.core.outcomes import Outcome
from grader.models import Assignment, Override, State, Submission, User
from grader.services.grades import in_force
from grader.services.overrides import newest_override_id


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


@dataclasses.dataclass(frozen=True)
class SubmissionFilter:
    """What staff search submissions by; empty fields do not filter."""

    assignment: str = ""  # slug
    state: str = ""  # a State value
    outcome: str = ""  # an Outcome value
    student: str = ""  # part of an email or a name, any case
    min_score: float | None = None  # the score in force (an override, else the rubric's), inclusive
    max_score: float | None = None
    history: bool = False  # also list earlier runs of re-run chains (by default only the row in force)

    def to_args(self) -> dict[str, str]:
        """The query string that gives this filter back (for pagination links)."""
        args = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        args["min_score"] = "" if self.min_score is None else f"{self.min_score:g}"
        args["max_score"] = "" if self.max_score is None else f"{self.max_score:g}"
        args["history"] = "1" if self.history else ""
        return {k: v for k, v in args.items() if v}


def parse_filter(args: Mapping[str, str]) -> tuple[SubmissionFilter, dict[str, str]]:
    """Read the search form; a bad field is dropped from the filter and explained in the errors, by field."""
    errors: dict[str, str] = {}
    state = args.get("state", "").strip()
    if state and state not in {s.value for s in State}:
        errors["state"] = f"Unknown state {state[:40]!r}; choose one of the list."
        state = ""
    outcome = args.get("outcome", "").strip()
    if outcome and outcome not in {o.value for o in Outcome}:
        errors["outcome"] = f"Unknown outcome {outcome[:40]!r}; choose one of the list."
        outcome = ""
    scores: dict[str, float | None] = {}
    for name in ("min_score", "max_score"):
        raw = args.get(name, "").strip()
        scores[name] = None
        if raw:
            try:
                scores[name] = float(raw.replace(",", "."))
            except ValueError:
                errors[name] = f"{raw[:40]!r} is not a number; write points like 7.5."
            else:
                if not math.isfinite(scores[name]):  # type: ignore[arg-type]
                    errors[name], scores[name] = f"{raw[:40]!r} is not a number; write points like 7.5.", None
    low, high = scores["min_score"], scores["max_score"]
    if low is not None and high is not None and low > high:
        errors["max_score"] = "The upper bound is below the lower bound; nothing could match."
    found = SubmissionFilter(
        assignment=args.get("assignment", "").strip()[:64],
        state=state,
        outcome=outcome,
        student=args.get("student", "").strip()[:320],
        min_score=scores["min_score"],
        max_score=scores["max_score"],
        history=args.get("history", "") not in ("", "0"),
    )
    return found, errors


@dataclasses.dataclass(frozen=True)
class FoundSubmission:
    """One row of a staff search: the submission, its score in force, and where it sits in its chain."""

    submission: Submission
    override: Override | None  # the upload's newest override row (in force when points_after is set)
    score: float | None  # in force: the override's points, else the rubric's
    runs: int  # rows in its chain
    in_force: bool  # False: an earlier run, superseded by a re-run


@dataclasses.dataclass(frozen=True)
class SearchPage:
    rows: list[FoundSubmission]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _chain_id() -> ColumnElement[int]:
    return func.coalesce(Submission.rerun_of_id, Submission.id)


def search_submissions(session: Session, wanted: SubmissionFilter, page: int = 1, per_page: int = 50) -> SearchPage:
    """Return one page of the submissions matching the filter, newest first."""
    newest = aliased(Override)
    newest_id = newest_override_id()  # of the upload: an override stays in force across re-runs
    score = func.coalesce(newest.points_after, Submission.score)
    query = (
        select(Submission, newest, score)
        .join(User, User.id == Submission.user_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .outerjoin(newest, newest.id == newest_id)
    )
    conditions: list[ColumnElement[bool]] = []
    if not wanted.history:
        conditions.append(in_force())  # the rule every grade uses
    if wanted.assignment:
        conditions.append(Assignment.slug == wanted.assignment)
    if wanted.state:
        conditions.append(Submission.state == State(wanted.state))
    if wanted.outcome:
        conditions.append(Submission.outcome == wanted.outcome)
    if wanted.student:
        needle = wanted.student.lower()
        email, name = func.lower(User.email), func.lower(User.name)
        conditions.append(or_(email.contains(needle, autoescape=True), name.contains(needle, autoescape=True)))
    if wanted.min_score is not None:
        conditions.append(score >= wanted.min_score)
    if wanted.max_score is not None:
        conditions.append(score <= wanted.max_score)
    query = query.where(*conditions)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    found = session.execute(query.order_by(Submission.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    runs = _chain_sizes(session, {row[0].rerun_of_id or row[0].id for row in found})
    latest = _chain_heads(session, set(runs))
    rows = []
    for sub, override, points in found:
        chain = sub.rerun_of_id or sub.id
        rows.append(FoundSubmission(sub, override, points, runs.get(chain, 1), latest.get(chain) == sub.id))
    return SearchPage(rows, total, page, per_page)


def _chain_sizes(session: Session, roots: set[int]) -> dict[int, int]:
    if not roots:
        return {}
    query = select(_chain_id(), func.count()).where(_chain_id().in_(roots)).group_by(_chain_id())
    return {root: count for root, count in session.execute(query)}


def _chain_heads(session: Session, roots: set[int]) -> dict[int, int]:
    """The row in force (newest id) of each chain."""
    if not roots:
        return {}
    query = select(_chain_id(), func.max(Submission.id)).where(_chain_id().in_(roots)).group_by(_chain_id())
    return {root: head for root, head in session.execute(query)}


def assignment_slugs(session: Session) -> list[str]:
    """Every assignment's slug, for the search form."""
    return list(session.scalars(select(Assignment.slug).order_by(Assignment.slug)))
