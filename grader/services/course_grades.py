"""Students' course grades: rubrics/course.yaml, staff-entered scores and every assignment's final.

The course file is read on each use (it is small, and an edit takes effect at
once); its assignment sources are checked against the assignments the
database knows. Assignment finals come from grader.services.grades, staff
scores from StaffScore rows; grader.core.course weighs them. Scores of many
students are read together (a few queries), so the gradebook and one
student's page share the same code.

A student's own grades hide what would reveal a score hidden by the daily
limit (grader.core.policy.daily): such an assignment's grade, every component
it enters and, when it weighs in, the course total read "hidden until ..."
and carry no number (a total would reveal the hidden score by difference).
Staff see the numbers, with a note of what the student does not see yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.assignments import display_path, read_yaml
from grader.config import Settings
from grader.core.course import (
    ComponentResult,
    ComponentSpec,
    CourseGrade,
    CourseSpec,
    compute_course_grade,
    parse_course,
)
from grader.core.policy import AssignmentGrade, Line, Visibility
from grader.models import Assignment, StaffScore, User, utcnow
from grader.services.grades import all_assignments, grade_table, hidden_grades, students


def load_course(settings: Settings, known_assignments: Collection[str] | None = None) -> CourseSpec:
    """Read rubrics/course.yaml; raise SpecError naming the file and field when it is wrong."""
    path = settings.rubrics_dir / "course.yaml"
    return parse_course(read_yaml(path), display_path(path), known_assignments)


def course_timezone(settings: Settings) -> dt.tzinfo:
    """The course's time zone; UTC when there is no course file; SpecError when the file is wrong.

    Every upload and every student page asks, so the file is parsed once per
    version of it (modification time and size), not on each request.
    """
    path = settings.rubrics_dir / "course.yaml"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return dt.timezone.utc
    return _timezone_of(path, (stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _timezone_of(path: Path, _version: tuple[int, int]) -> dt.tzinfo:
    return parse_course(read_yaml(path), display_path(path)).tz


@dataclasses.dataclass(frozen=True)
class StudentGrades:
    """One student's grades: each assignment's breakdown, and the course grade."""

    student: User
    assignments: tuple[tuple[Assignment, AssignmentGrade], ...]
    course: CourseGrade
    spec: CourseSpec = dataclasses.field(compare=False, repr=False)
    # Grades the student may not see yet (by assignment slug), and the components and total they enter.
    hidden: Mapping[str, Visibility] = dataclasses.field(default_factory=dict)
    hidden_components: Mapping[str, Visibility] = dataclasses.field(default_factory=dict)
    total_hidden: Visibility | None = None
    masked: bool = False  # True: the numbers above are gone (the student's own view)

    def hidden_words(self, slug_or_total: str | None = None) -> str:
        """Return "hidden until 13 Feb 2025 23:59 CET" for an assignment's slug or the total (None); "" if shown."""
        seen = self.total_hidden if slug_or_total is None else self.hidden.get(slug_or_total)
        return seen.words(self.spec.tz) if seen is not None else ""

    def component_words(self, component_id: str) -> str:
        """Return "hidden until ..." for a course component a hidden grade is in; "" otherwise."""
        seen = self.hidden_components.get(component_id)
        return seen.words(self.spec.tz) if seen is not None else ""

    def for_student(self) -> StudentGrades:
        """Return these grades as their student may see them now: no number a hidden score is in."""
        if not self.hidden:
            return dataclasses.replace(self, masked=True)
        assignments = tuple(
            (a, _masked_grade(g, self.hidden_words(a.slug)) if a.slug in self.hidden else g)
            for a, g in self.assignments
        )
        course = _masked_course(self.course, self.hidden_components, self.hidden_words(), self.spec.formula())
        return dataclasses.replace(self, assignments=assignments, course=course, masked=True)

    def to_json(self) -> dict[str, object]:
        """The body of GET /api/v1/grades/me: the course grade, plus each published assignment's breakdown."""
        return {
            **self.course.to_json(),
            "hidden": _hidden_json(self.total_hidden, self.hidden_words()),
            "assignments": [self._assignment_json(a, g) for a, g in self.assignments if a.published],
        }

    def _assignment_json(self, assignment: Assignment, grade: AssignmentGrade) -> dict[str, Any]:
        data = grade.to_json()
        hidden = self.hidden.get(assignment.slug)
        if hidden is not None and self.masked:
            data["late_percent"] = None
        data["hidden"] = _hidden_json(hidden, self.hidden_words(assignment.slug))
        return data


def _hidden_json(seen: Visibility | None, words: str) -> dict[str, Any] | None:
    if seen is None:
        return None
    return {"until": seen.until.isoformat() if seen.until else None, "message": words}


def _masked_grade(grade: AssignmentGrade, words: str) -> AssignmentGrade:
    """The grade with every number a hidden score is in replaced by the words that say until when."""
    gone = Line(None, words)
    return dataclasses.replace(
        grade, submission_id=None, raw=gone, late_penalty=gone, late_percent=0.0, override=gone, final=gone
    )


def _masked_course(course: CourseGrade, hidden: Collection[str], total_words: str, formula: str) -> CourseGrade:
    """The course grade without the hidden components' scores, nor the total when `total_words` says it is hidden."""

    def mask(result: ComponentResult) -> ComponentResult:
        children = tuple(mask(child) for child in result.children)
        if result.id not in hidden:
            return dataclasses.replace(result, children=children)
        return dataclasses.replace(result, score=None, contribution=None, children=children)  # type: ignore[arg-type]

    components = tuple(mask(c) for c in course.components)
    if not total_words:
        return dataclasses.replace(course, components=components)
    explanation = f"final = {formula}; {total_words}, with the assignment grade it includes"
    return CourseGrade(components, None, None, course.missing, explanation)  # type: ignore[arg-type]


def hidden_components(spec: CourseSpec, hidden: Mapping[str, Visibility]) -> dict[str, Visibility]:
    """The components whose score a hidden assignment grade is in, each with until when (a weight-0 child hides none)."""
    found: dict[str, Visibility] = {}

    def walk(component: ComponentSpec) -> Visibility | None:
        if component.source is not None:
            inside = [hidden[slug] for slug in component.source.assignments if slug in hidden]
        else:
            walked = [(child, walk(child)) for child in component.children]  # walk them all: each child is listed
            inside = [seen for child, seen in walked if seen is not None and child.weight > 0]
        if inside:
            found[component.id] = _latest(inside)
        return found.get(component.id)

    for component in spec.components:
        walk(component)
    return found


def total_hidden(spec: CourseSpec, components: Mapping[str, Visibility]) -> Visibility | None:
    """Whether the course total is hidden, until when: when a hidden component weighs in."""
    inside = [components[c.id] for c in spec.components if c.id in components and c.weight > 0]
    return _latest(inside) if inside else None


def _latest(seen: list[Visibility]) -> Visibility:
    """The hiding that ends last (no closing moment: never)."""
    endless = [v for v in seen if v.until is None]
    return (
        endless[0] if endless else max(seen, key=lambda v: v.until or dt.datetime.max.replace(tzinfo=dt.timezone.utc))
    )


@dataclasses.dataclass(frozen=True)
class CourseReport:
    """Grades of several students under one reading of the course file and the assignments."""

    course: CourseSpec
    assignments: tuple[Assignment, ...]
    students: tuple[StudentGrades, ...]


def staff_scores_of(session: Session, user_ids: Collection[int]) -> dict[int, dict[str, float]]:
    """Return each student's staff-entered scores by component id (one query)."""
    scores: dict[int, dict[str, float]] = {uid: {} for uid in user_ids}
    if not user_ids:
        return scores
    for row in session.scalars(select(StaffScore).where(StaffScore.user_id.in_(list(user_ids)))):
        scores.setdefault(row.user_id, {})[row.component] = row.score
    return scores


def course_report(
    session: Session, settings: Settings, user_ids: Collection[int] | None = None, *, now: dt.datetime | None = None
) -> CourseReport:
    """Return the grades of these students (default: every student); raise SpecError on a broken file or policy."""
    assignments = all_assignments(session)
    course = load_course(settings, {a.slug for a in assignments})
    graded = _grade_people(session, settings, course, assignments, students(session, user_ids), now or utcnow())
    return CourseReport(course, tuple(assignments), tuple(graded))


def grades_of(
    session: Session, settings: Settings, user: User, *, now: dt.datetime | None = None, staff_view: bool = False
) -> StudentGrades:
    """Return one user's grades as they may see them now (a staff account gets its own: empty, but the page works).

    `staff_view`: every number, with what the student does not see yet marked (StudentGrades.hidden).
    """
    now = now or utcnow()
    assignments = all_assignments(session)
    course = load_course(settings, {a.slug for a in assignments})
    graded = _grade_people(session, settings, course, assignments, [user], now, with_hidden=True)[0]
    return graded if staff_view else graded.for_student()


def _grade_people(
    session: Session,
    settings: Settings,
    course: CourseSpec,
    assignments: list[Assignment],
    people: list[User],
    now: dt.datetime,
    *,
    with_hidden: bool = False,
) -> list[StudentGrades]:
    ids = [person.id for person in people]
    table = grade_table(session, settings, assignments, ids, tz=course.tz, now=now)
    hidden = hidden_grades(session, assignments, ids, table, tz=course.tz, now=now) if with_hidden else {}
    staff = staff_scores_of(session, ids)
    graded = []
    for person in people:
        mine = tuple((a, table[(person.id, a.id)]) for a in assignments)
        percents = {a.slug: grade.percent for a, grade in mine}
        result = compute_course_grade(course, staff.get(person.id, {}), percents)
        theirs = {a.slug: hidden[(person.id, a.id)] for a in assignments if (person.id, a.id) in hidden}
        parts = hidden_components(course, theirs)
        total = total_hidden(course, parts)
        graded.append(StudentGrades(person, mine, result, course, theirs, parts, total))
    return graded
