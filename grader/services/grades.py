"""Per-assignment grades from the database: the rows in force, the policy, extensions and overrides.

Which rows are in force: a re-run is a new row pointing at the first row of
its chain (`rerun_of_id`), so a row is superseded as soon as a newer row of
its chain exists; the newest row of each chain is the one in force, earlier
rows are history. `in_force()` is that rule as a SQL condition, usable in any
query; `rows_in_force()` reads the rows.

An override belongs to the upload, across its re-runs (grader.services.overrides):
the newest Override row of a chain is in force, `points_after` None withdraws
it, and `points_in_force` is the one rule for the score that counts. The
override's points are the chain's score when the policy chooses which
submission counts (so "best" sees them), even while a re-run is pending, and when the
counted submission carries one, it replaces the assignment's final outright,
with the TA's name and reason (grader.core.policy.breakdown). The raw line
keeps the rubric's score, so the student sees what the override replaced.

An assignment without a policy (`Assignment.policy` None) has no deadline:
every submission is accepted, none is late, the best one counts.

What a student may see (grader.core.policy.daily): `student_may_see` answers,
for one row, whether its student may see its score now; every page and the
API ask it. `hidden_grades` says which grades would reveal a hidden score:
those show "hidden until ..." to the student, and so does the course total
they enter. Staff see everything.

Everything here reads a whole assignment's students in a few queries (rows,
extensions, overrides), whatever the number of students: the gradebook and a
student's page share `grade_table`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable, Sequence

import yaml
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, aliased, joinedload

from grader.assignments import load_assignment
from grader.config import Settings
from grader.core.errors import SpecError
from grader.core.kinds import KINDS
from grader.core.outcomes import Status
from grader.core.policy import (
    AssignmentGrade,
    AssignmentPolicy,
    Attempt,
    Deadlines,
    FeedbackLevel,
    LatePolicy,
    Line,
    Visibility,
    grade_assignment,
    grade_hidden,
    score_visibility,
    select_counting,
)
from grader.core.policy import Extension as ExtensionSpec
from grader.core.policy import Override as OverrideSpec
from grader.core.rubric import parse_rubric
from grader.models import Assignment, Extension, Override, Role, RubricRevision, State, Submission, User
from grader.services.assignment_dates import policy_in_force
from grader.services.overrides import display_name, overrides_in_force, points_in_force

NO_DEADLINE = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)  # an assignment without a policy: never late
_STATUS = {State.SCORED: Status.SCORED, State.FAILED: Status.FAILED, State.ERROR: Status.ERROR}


def in_force() -> ColumnElement[bool]:
    """The SQL condition "this submission row is the newest of its chain" (no newer re-run exists)."""
    newer = aliased(Submission)
    chain = func.coalesce(Submission.rerun_of_id, Submission.id)
    return ~exists().where(newer.rerun_of_id == chain, newer.id > Submission.id)


def rows_in_force(
    session: Session,
    *,
    assignment_ids: Collection[int] | None = None,
    user_ids: Collection[int] | None = None,
) -> list[Submission]:
    """Return the submission rows in force (the newest of each chain), oldest first; optionally filtered."""
    query = select(Submission).where(in_force()).order_by(Submission.id)
    if assignment_ids is not None:
        query = query.where(Submission.assignment_id.in_(list(assignment_ids)))
    if user_ids is not None:
        query = query.where(Submission.user_id.in_(list(user_ids)))
    return list(session.scalars(query))


def assignment_policy(assignment: Assignment, tz: dt.tzinfo) -> AssignmentPolicy | None:
    """Return the assignment's policy (None: no deadline); raise SpecError if the stored one is broken."""
    return policy_in_force(assignment, tz)  # the one reading of dates every page shares


def rubric_max_points(session: Session, assignment: Assignment, settings: Settings) -> float | None:
    """Return the points of the rubric in force (the newest revision, else the file); None if unreadable.

    Only needed for a student with nothing graded: their zero, once the cutoff has passed, is a percent.
    """
    newest = session.scalars(
        select(RubricRevision.yaml_text)
        .where(RubricRevision.assignment_id == assignment.id)
        .order_by(RubricRevision.id.desc())
        .limit(1)
    ).first()
    try:
        if newest is not None:
            rubric = parse_rubric(
                yaml.safe_load(newest), f"the rubric of {assignment.slug}", KINDS[assignment.task].metrics
            )
            return rubric.max_points
        return load_assignment(assignment.slug, settings).rubric.max_points
    except (SpecError, yaml.YAMLError):
        return None


def attempt_of(row: Submission, override: Override | None, fallback_max: float) -> Attempt:
    """Return a submission row as the policy sees it: an override's points stand in for the rubric's score."""
    status = _STATUS.get(row.state)
    if override is not None and status in (None, Status.ERROR):
        status = Status.SCORED  # the upload's override counts while a re-run is pending or failed on our side
    score = points_in_force(row, override) if status is not None else None
    max_score = row.max_score if row.max_score is not None else fallback_max
    return Attempt(row.id, row.created_at, status, score, max_score)


def extension_spec(row: Extension) -> ExtensionSpec:
    """Return an extension row as the policy reads it."""
    return ExtensionSpec(row.due_at, row.last_accepted_at, row.reason, display_name(row.granted_by))


@dataclasses.dataclass(frozen=True)
class Rules:
    """What one assignment's grades are computed under."""

    policy: AssignmentPolicy | None
    max_score: float | None  # the rubric's points, when known

    def deadlines(self, extension: ExtensionSpec | None) -> Deadlines:
        if self.policy is None:
            return Deadlines(NO_DEADLINE, dt.timedelta(0), None, None, extension)
        return self.policy.deadlines(extension)

    def closes_at(self, extension: Extension | None) -> dt.datetime | None:
        """The student's last accepted moment (their extension included); None: work is accepted for ever."""
        return self.deadlines(extension_spec(extension) if extension is not None else None).last_accepted

    @property
    def late(self) -> LatePolicy:
        return self.policy.late if self.policy else LatePolicy()

    @property
    def counts(self) -> str:
        return self.policy.counts if self.policy else "best"


def student_may_see(row: Submission, closes_at: dt.datetime | None, now: dt.datetime) -> Visibility:
    """May the row's student see its score now? Its level as stored at upload (a re-run's copies its upload's).

    `closes_at` is the student's last accepted moment (Rules.closes_at). Staff
    are never asked: they see everything.
    """
    return score_visibility(FeedbackLevel.stored(row.feedback), closes_at, now)


def grade_student(
    assignment: Assignment,
    rules: Rules,
    rows: Sequence[Submission],
    extension: Extension | None,
    overrides: dict[int, Override],
    *,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> AssignmentGrade:
    """Return one student's grade for one assignment from their rows in force (pure on loaded rows)."""
    known_max = [r.max_score for r in rows if r.max_score is not None]
    max_score = known_max[-1] if known_max else (rules.max_score or 0.0)
    attempts = [attempt_of(r, overrides.get(r.id), max_score) for r in rows]
    spec = extension_spec(extension) if extension is not None else None
    deadlines = rules.deadlines(spec)

    def graded(override: OverrideSpec | None = None) -> AssignmentGrade:
        return grade_assignment(
            assignment.slug, max_score, attempts, deadlines, rules.late, rules.counts, override=override, now=now, tz=tz
        )

    grade = graded()
    row_override = overrides.get(grade.submission_id) if isinstance(grade.submission_id, int) else None
    if row_override is not None and row_override.points_after is not None:  # rare: grade it again with the override
        points = min(row_override.points_after, max_score)  # a later rubric with fewer points caps an old override
        grade = graded(OverrideSpec(points, display_name(row_override.by), row_override.reason))
        why = select_counting(attempts, deadlines, rules.late, rules.counts, tz).explanation
        rubric_score = next(r.score for r in rows if r.id == grade.submission_id) or 0.0
        grade = _rubric_lines(grade, rubric_score, why)
    if rules.policy is None:
        taken = grade.late_penalty.value
        grade = dataclasses.replace(grade, late_penalty=Line(taken, "no deadline, so no late penalty"))
    return grade


def _rubric_lines(grade: AssignmentGrade, rubric_score: float, why_counted: str) -> AssignmentGrade:
    """Show the rubric's score on the raw and penalty lines of an overridden submission (the override stays final).

    The policy chose the submission with the override's points standing in for its score; the student
    reads what the rubric gave it, what the late penalty made of that, and that the override replaced it.
    """
    after_penalty = round(rubric_score * (1 - grade.late_percent / 100), 2)
    points, max_score = _pts(grade.final.value or 0.0), _pts(grade.max_score)
    return dataclasses.replace(
        grade,
        raw=Line(rubric_score, f"{why_counted}; the rubric scored it {_pts(rubric_score)}/{max_score}"),
        late_penalty=Line(round(rubric_score - after_penalty, 2), grade.late_penalty.explanation),
        final=Line(
            grade.final.value, f"{points} out of {max_score}, set by override; it replaces {_pts(after_penalty)}"
        ),
    )


def grade_table(
    session: Session,
    settings: Settings,
    assignments: Iterable[Assignment],
    user_ids: Collection[int],
    *,
    tz: dt.tzinfo,
    now: dt.datetime,
) -> dict[tuple[int, int], AssignmentGrade]:
    """Return every (user id, assignment id) grade, in three queries whatever the number of students.

    Raise SpecError when an assignment's stored policy cannot be read (staff's to fix).
    """
    assignments = list(assignments)
    by_pair, extensions = _rows_and_extensions(session, assignments, user_ids)
    overrides = overrides_in_force(session, [r for rows in by_pair.values() for r in rows])  # by row id
    table: dict[tuple[int, int], AssignmentGrade] = {}
    for assignment in assignments:
        policy = assignment_policy(assignment, tz)
        rules = Rules(policy, None)
        looked_up = False
        for user_id in user_ids:
            mine = by_pair.get((user_id, assignment.id), [])
            if not looked_up and not any(r.max_score is not None for r in mine):
                rules, looked_up = Rules(policy, rubric_max_points(session, assignment, settings)), True
            table[(user_id, assignment.id)] = grade_student(
                assignment, rules, mine, extensions.get((user_id, assignment.id)), overrides, now=now, tz=tz
            )
    return table


def _rows_and_extensions(
    session: Session, assignments: Sequence[Assignment], user_ids: Collection[int]
) -> tuple[dict[tuple[int, int], list[Submission]], dict[tuple[int, int], Extension]]:
    """Return the rows in force and the extensions of these students, by (user id, assignment id): two queries."""
    ids = [a.id for a in assignments]
    if not user_ids or not ids:
        return {}, {}
    by_pair: dict[tuple[int, int], list[Submission]] = {}
    for row in rows_in_force(session, assignment_ids=ids, user_ids=user_ids):
        by_pair.setdefault((row.user_id, row.assignment_id), []).append(row)
    query = (
        select(Extension)
        .options(joinedload(Extension.granted_by))
        .where(Extension.assignment_id.in_(ids), Extension.user_id.in_(list(user_ids)))
    )
    extensions = {(e.user_id, e.assignment_id): e for e in session.scalars(query)}
    return by_pair, extensions


def hidden_grades(
    session: Session,
    assignments: Iterable[Assignment],
    user_ids: Collection[int],
    table: dict[tuple[int, int], AssignmentGrade],
    *,
    tz: dt.tzinfo,
    now: dt.datetime,
) -> dict[tuple[int, int], Visibility]:
    """Return the grades of `table` that would reveal a score hidden from its student, with until when.

    Raise SpecError when an assignment's stored policy cannot be read (as grade_table does).
    """
    assignments = list(assignments)
    by_pair, extensions = _rows_and_extensions(session, assignments, user_ids)
    hidden: dict[tuple[int, int], Visibility] = {}
    for assignment in assignments:
        rules = Rules(assignment_policy(assignment, tz), None)
        for user_id in user_ids:
            rows = by_pair.get((user_id, assignment.id), [])
            closes = rules.closes_at(extensions.get((user_id, assignment.id)))
            unseen = {r.id: v for r in rows if not (v := student_may_see(r, closes, now)).shown}
            attempts = [attempt_of(r, None, 0.0) for r in rows]
            grade = table[(user_id, assignment.id)]
            if unseen and grade_hidden(attempts, unseen, grade.submission_id, rules.counts):
                hidden[(user_id, assignment.id)] = next(iter(unseen.values()))
    return hidden


def students(session: Session, user_ids: Collection[int] | None = None) -> list[User]:
    """Return the student accounts (optionally only these), by email."""
    query = select(User).where(User.role == Role.STUDENT).order_by(User.email)
    if user_ids is not None:
        query = query.where(User.id.in_(list(user_ids)))
    return list(session.scalars(query))


def all_assignments(session: Session) -> list[Assignment]:
    """Return every assignment, soonest deadline first (no deadline last), then by slug."""
    rows = session.scalars(select(Assignment))
    far = NO_DEADLINE.replace(tzinfo=None)
    return sorted(rows, key=lambda a: ((a.due_at or far).replace(tzinfo=None), a.slug))


def _pts(points: float) -> str:
    return f"{points:.2f}".rstrip("0").rstrip(".")


__all__ = [
    "Rules",
    "all_assignments",
    "assignment_policy",
    "attempt_of",
    "grade_student",
    "grade_table",
    "hidden_grades",
    "in_force",
    "overrides_in_force",
    "rows_in_force",
    "rubric_max_points",
    "student_may_see",
    "students",
]
