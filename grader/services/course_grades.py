"""Students' course grades: rubrics/course.yaml, staff-entered scores and every assignment's final.

The course file is read on each use (it is small, and an edit takes effect at
once); its assignment sources are checked against the assignments the
database knows. Assignment finals come from grader.services.grades, staff
scores from StaffScore rows; grader.core.course weighs them. Scores of many
students are read together (a few queries), so the gradebook and one
student's page share the same code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.assignments import display_path, read_yaml
from grader.config import Settings
from grader.core.course import CourseGrade, CourseSpec, compute_course_grade, parse_course
from grader.core.policy import AssignmentGrade
from grader.models import Assignment, StaffScore, User, utcnow
from grader.services.grades import all_assignments, grade_table, students


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

    def to_json(self) -> dict[str, object]:
        """The body of GET /api/v1/grades/me: the course grade, plus each published assignment's breakdown."""
        return {
            **self.course.to_json(),
            "assignments": [grade.to_json() for assignment, grade in self.assignments if assignment.published],
        }


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


def grades_of(session: Session, settings: Settings, user: User, *, now: dt.datetime | None = None) -> StudentGrades:
    """Return one user's grades (a staff account gets its own too: empty, but the page still works)."""
    assignments = all_assignments(session)
    course = load_course(settings, {a.slug for a in assignments})
    return _grade_people(session, settings, course, assignments, [user], now or utcnow())[0]


def _grade_people(
    session: Session,
    settings: Settings,
    course: CourseSpec,
    assignments: list[Assignment],
    people: list[User],
    now: dt.datetime,
) -> list[StudentGrades]:
    ids = [person.id for person in people]
    table = grade_table(session, settings, assignments, ids, tz=course.tz, now=now)
    staff = staff_scores_of(session, ids)
    graded = []
    for person in people:
        mine = tuple((a, table[(person.id, a.id)]) for a in assignments)
        percents = {a.slug: grade.percent for a, grade in mine}
        result = compute_course_grade(course, staff.get(person.id, {}), percents)
        graded.append(StudentGrades(person, mine, result, course))
    return graded
