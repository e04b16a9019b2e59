"""Rubrics staff edit on the site: the rubric in force, a preview of a change, and saving it with a rescore.

The rubric in force for an assignment is its newest RubricRevision, else the
rubric file of its folder. A change is checked exactly like a rubric file
(grader.core.rubric.parse_rubric), with each mistake placed on its YAML line,
then every stored evaluation is scored again with the same `grade()` a worker
uses (grader.core.rescoring.regrade), against the reference results the
workers last measured (`Assignment.references`). Nothing trains again, so a
preview and a save take milliseconds per thousand submissions.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.assignments import load_assignment, locate_assignment
from grader.config import Settings
from grader.core.errors import SpecError
from grader.core.grading import GradeResult
from grader.core.kinds import KINDS
from grader.core.outcomes import Outcome
from grader.core.rescoring import regrade
from grader.core.rubric import Metric, RubricSpec, parse_rubric
from grader.db import transaction
from grader.models import Assignment, RubricRevision, Submission, User
from grader.services.grades import in_force

REBUILD_HINT = (
    "a worker records them when it grades a submission of this assignment, "
    "or run `grader references build {slug}` on a worker machine"
)


@dataclasses.dataclass(frozen=True)
class RubricProblem:
    """A rubric mistake placed for the editor: the message, the dotted field and its YAML line (1-based)."""

    message: str
    field: str = ""
    line: int | None = None

    @classmethod
    def of(cls, error: SpecError, text: str) -> RubricProblem:
        """Place a SpecError on the line of the text it is about."""
        line = getattr(error, "line", None) or locate_field(text, error.field)
        return cls(error.problem if error.field else error.student_message, error.field, line)


@dataclasses.dataclass(frozen=True)
class ScoreChange:
    """One submission's score under the rubric in force and under the proposed one."""

    submission_id: int
    student: str
    before: float | None
    after: float | None
    max_before: float | None
    max_after: float

    @property
    def delta(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclasses.dataclass(frozen=True)
class RubricPreview:
    """What saving a rubric would do to every current submission (the rows in force)."""

    rubric: RubricSpec
    changes: tuple[ScoreChange, ...]
    not_graded: int  # rows in force still queued or running, or whose run left no evaluation

    @property
    def up(self) -> int:
        return sum(1 for c in self.changes if (c.delta or 0) > 0)

    @property
    def down(self) -> int:
        return sum(1 for c in self.changes if (c.delta or 0) < 0)

    @property
    def same(self) -> int:
        return len(self.changes) - self.up - self.down

    @property
    def mean_change(self) -> float:
        deltas = [c.delta for c in self.changes if c.delta is not None]
        return statistics.fmean(deltas) if deltas else 0.0

    def summary(self) -> str:
        """Say in one line how the change moves the scores."""
        if not self.changes:
            return "No graded submission yet: the change applies to every grading from now on."
        return (
            f"{len(self.changes)} graded submissions: {self.up} go up, {self.down} go down, {self.same} unchanged; "
            f"mean change {self.mean_change:+.2f} points (max {self.rubric.max_points:g})."
        )


@dataclasses.dataclass(frozen=True)
class SavedRubric:
    """A saved revision and what its rescore did."""

    revision_id: int
    rescored: int
    changed: int
    problems: dict[int, str]  # submissions whose stored evaluation could not be read


def locate_field(text: str, field: str) -> int | None:
    """Return the 1-based line of a dotted field path (`criteria[2].points`) in YAML text, if found."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in _field_parts(field):
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode) and part < len(node.value):
            node = node.value[part]
        elif isinstance(part, str) and isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
            continue
        else:
            return line
        line = node.start_mark.line + 1
    return line


def _field_parts(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in field.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes if i.isdigit())
    return parts


def kind_metrics(assignment: Assignment) -> Mapping[str, Metric]:
    """The metrics a rubric of this assignment may score: its task kind's."""
    return KINDS[assignment.task].metrics


def parse_rubric_text(text: str, slug: str, source: str, metrics: Mapping[str, Metric]) -> RubricSpec:
    """Check a rubric written in the editor like a rubric file, against the kind's metrics.

    Raise SpecError (with `line` where known).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        error = SpecError(source, "", f"not valid YAML: {where}{getattr(exc, 'problem', None) or exc}")
        error.line = mark.line + 1 if mark else None  # type: ignore[attr-defined]
        raise error from None
    rubric = parse_rubric(data, source, metrics)
    if rubric.assignment != slug:
        raise SpecError(source, "assignment", f"expected {slug!r}, the assignment it grades, got {rubric.assignment!r}")
    return rubric


def newest_revision(session: Session, assignment_id: int) -> RubricRevision | None:
    """Return the assignment's newest rubric revision, if staff ever saved one."""
    query = select(RubricRevision).where(RubricRevision.assignment_id == assignment_id)
    return session.scalars(query.order_by(RubricRevision.id.desc()).limit(1)).first()


def rubric_text_in_force(session: Session, assignment: Assignment, settings: Settings) -> str:
    """Return the YAML of the rubric in force: the newest revision, else the rubric file as written."""
    revision = newest_revision(session, assignment.id)
    if revision is not None:
        return revision.yaml_text
    found = locate_assignment(assignment.slug, settings)
    if found is None or not found[1].is_file():
        return f"assignment: {assignment.slug}\ncriteria: []\n"
    return found[1].read_text(encoding="utf-8")


def rubric_in_force(session: Session, assignment: Assignment, settings: Settings) -> RubricSpec:
    """Return the rubric that grades the assignment now (the newest revision, else the file)."""
    revision = newest_revision(session, assignment.id)
    if revision is None:
        return load_assignment(assignment.slug, settings).rubric
    source = f"rubric revision {revision.id} of {assignment.slug}"
    return parse_rubric_text(revision.yaml_text, assignment.slug, source, kind_metrics(assignment))


def check_references(rubric: RubricSpec, references: Mapping[str, Any] | None, slug: str, source: str) -> None:
    """Refuse a rubric whose relative thresholds need reference results the database does not hold yet."""
    missing = sorted(rubric.references_needed() - set(references or {}))
    if missing:
        raise SpecError(
            source,
            "",
            f"its relative thresholds need the {' and '.join(missing)} reference results, which are not known yet: "
            + REBUILD_HINT.format(slug=slug),
        )


def _graded_rows(session: Session, assignment_id: int, current_only: bool) -> list[Any]:
    query = (
        select(Submission.id, Submission.evaluation, Submission.score, Submission.max_score, User.email)
        .join(User, User.id == Submission.user_id)
        .where(Submission.assignment_id == assignment_id)
        .order_by(Submission.id)
    )
    return list(session.execute(query.where(in_force()) if current_only else query))


def _needs_references(rows: Sequence[Any]) -> bool:
    return any(r.evaluation is not None and r.evaluation.get("outcome") == Outcome.OK.value for r in rows)


def preview_rubric(session: Session, assignment: Assignment, yaml_text: str) -> RubricPreview:
    """Check a proposed rubric and score every current submission with it; raise SpecError if it is wrong."""
    source = f"rubric of {assignment.slug}"
    rubric = parse_rubric_text(yaml_text, assignment.slug, source, kind_metrics(assignment))
    rows = _graded_rows(session, assignment.id, current_only=True)
    if _needs_references(rows):
        check_references(rubric, assignment.references, assignment.slug, source)
    changes, not_graded = [], 0
    for row in rows:
        result = _regrade_row(row, rubric, assignment.references or {})
        if result is None:
            not_graded += 1
            continue
        changes.append(ScoreChange(row.id, row.email, row.score, result.score, row.max_score, result.max_score))
    return RubricPreview(rubric, tuple(changes), not_graded)


def _regrade_row(row: Any, rubric: RubricSpec, references: Mapping[str, Any]) -> GradeResult | None:
    """Score a stored evaluation again; None when there is none or it cannot be read."""
    if row.evaluation is None:
        return None
    try:
        return regrade(row.evaluation, rubric, references)
    except (KeyError, TypeError, ValueError):
        return None


def save_rubric(sessions: sessionmaker[Session], assignment_id: int, yaml_text: str, saved_by_id: int) -> SavedRubric:
    """Store a new revision and rescore every stored evaluation of the assignment, in one transaction.

    Every row with an evaluation is rescored, history included, so a re-run
    chain's earlier rows read the same rules as the row in force. A rubric
    that cannot score (a missing reference result) raises SpecError and
    nothing is saved.
    """
    with transaction(sessions) as session:
        assignment = session.get_one(Assignment, assignment_id)
        source = f"rubric of {assignment.slug}"
        rubric = parse_rubric_text(yaml_text, assignment.slug, source, kind_metrics(assignment))
        revision = RubricRevision(assignment_id=assignment_id, yaml_text=yaml_text, saved_by_id=saved_by_id)
        session.add(revision)
        session.flush()
        rescored, changed, problems = rescore_rows(session, assignment, rubric)
        return SavedRubric(revision.id, rescored, changed, problems)


def rescore_rows(session: Session, assignment: Assignment, rubric: RubricSpec) -> tuple[int, int, dict[int, str]]:
    """Rescore every stored evaluation of the assignment in this session; return (rescored, changed, problems)."""
    rows = [r for r in _graded_rows(session, assignment.id, current_only=False) if r.evaluation is not None]
    source = f"rubric of {assignment.slug}"
    if _needs_references(rows):
        check_references(rubric, assignment.references, assignment.slug, source)
    references = assignment.references or {}
    updates: list[dict[str, Any]] = []
    problems: dict[int, str] = {}
    changed = 0
    for row in rows:
        try:
            result = regrade(row.evaluation, rubric, references)
        except (KeyError, TypeError, ValueError) as exc:
            problems[row.id] = f"the stored evaluation cannot be read ({type(exc).__name__}: {exc}); run it again"
            continue
        changed += result.score != row.score or result.max_score != row.max_score
        updates.append({"id": row.id, "result": result.to_json(), "score": result.score, "max_score": result.max_score})
    if updates:  # one executemany by primary key (SQLAlchemy's bulk UPDATE)
        session.execute(update(Submission), updates)
    return len(updates), changed, problems
