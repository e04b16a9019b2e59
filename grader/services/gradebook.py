"""The gradebook: one row per student, a column per assignment and course component, the course grade; charts.

The table is the course report (grader.services.course_grades) laid flat; the
CSV export writes the same cells. A student's course grade is one number with a
status: "final" once every counted component has a score, else "provisional",
the points secured so far out of 100 with missing components counting 0 (the
two are equal once nothing is missing, so the page shows one column).

The charts are data here: `histogram` counts scores into bins and
`hourly_counts` counts uploads per hour around a deadline; grader.web.charts
draws them.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.core.course import ComponentResult, ComponentSpec
from grader.core.policy.timing import aware
from grader.models import Submission
from grader.services.course_grades import CourseReport


@dataclasses.dataclass(frozen=True)
class Column:
    """A gradebook column: an assignment's final (percent) or a component's score (0-100)."""

    key: str
    title: str
    kind: str  # "assignment" or "component"


@dataclasses.dataclass(frozen=True)
class Row:
    """One student's line of the gradebook."""

    user_id: int
    email: str
    name: str
    cells: tuple[float | None, ...]  # in the order of the columns; None: no score yet
    final: float | None  # None while a counted component has no score
    provisional: float  # points secured so far; equal to final once nothing is missing
    missing: tuple[str, ...]  # ids of the counted components without a score

    @property
    def grade(self) -> float:
        """The one number to show: the final when there is one, else the points secured so far."""
        return self.final if self.final is not None else self.provisional

    @property
    def status(self) -> str:
        """Say "final" when every counted component has a score, else "provisional"."""
        return "final" if self.final is not None else "provisional"


@dataclasses.dataclass(frozen=True)
class Gradebook:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


def _walk(result: ComponentResult) -> list[ComponentResult]:
    return [result, *(node for child in result.children for node in _walk(child))]


def build_gradebook(report: CourseReport) -> Gradebook:
    """Lay a course report flat: assignments (final, % of points), then every component, then the final."""
    columns = [Column(a.slug, a.title, "assignment") for a in report.assignments]
    component_ids: list[tuple[str, str]] = []
    rows = []
    for student in report.students:
        components = [node for top in student.course.components for node in _walk(top)]
        if not component_ids:
            component_ids = [(c.id, c.title) for c in components]
        by_id = {c.id: c.score for c in components}
        cells = [grade.percent for _, grade in student.assignments]
        cells += [by_id.get(cid) for cid, _ in component_ids]
        rows.append(
            Row(
                student.student.id,
                student.student.email,
                student.student.name,
                tuple(cells),
                student.course.final,
                student.course.provisional,
                student.course.missing,
            )
        )
    if not component_ids:
        component_ids = [(node.id, node.title) for node in _component_nodes(report)]
    columns += [Column(cid, title, "component") for cid, title in component_ids]
    return Gradebook(tuple(columns), tuple(rows))


def _component_nodes(report: CourseReport) -> list[ComponentSpec]:
    """Every component of the course file, parents before their parts (the columns when there are no students)."""

    def walk(spec: ComponentSpec) -> list[ComponentSpec]:
        return [spec, *(node for child in spec.children for node in walk(child))]

    return [node for top in report.course.components for node in walk(top)]


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def gradebook_csv(book: Gradebook) -> str:
    """Return the gradebook as CSV: email, name, a column per assignment and component, then the course grade.

    The course grade keeps the columns spreadsheets already read: `final` (empty while a counted component has
    no score), `provisional` (the points secured so far, missing components counting 0; equal to final once
    complete) and `missing` (component ids); `status` (final or provisional) comes last.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["email", "name"]
    header += [f"{c.key} (%)" if c.kind == "assignment" else c.key for c in book.columns]
    header += ["final", "provisional", "missing", "status"]
    writer.writerow(header)
    for row in book.rows:
        cells = [_cell(value) for value in row.cells]
        grade = [_cell(row.final), _cell(row.provisional), " ".join(row.missing), row.status]
        writer.writerow([row.email, row.name, *cells, *grade])
    return out.getvalue()


def histogram(values: Iterable[float], bins: int = 10, low: float = 0.0, high: float = 100.0) -> list[int]:
    """Count values into `bins` equal bins from low to high; the top bin includes high (100% lands in 90-100)."""
    counts = [0] * bins
    width = (high - low) / bins
    for value in values:
        if value < low or value > high:
            continue
        counts[min(bins - 1, int((value - low) // width))] += 1
    return counts


def hourly_counts(
    moments: Iterable[dt.datetime], due_at: dt.datetime, before_hours: int = 48, after_hours: int = 24
) -> list[int]:
    """Count moments per hour from `before_hours` before the due date to `after_hours` after it.

    Bin i covers [due - before + i h, due - before + (i+1) h): the bin ending at the due moment is the
    last hour before the deadline. Moments outside the window are left out.
    """
    start = aware(due_at) - dt.timedelta(hours=before_hours)
    counts = [0] * (before_hours + after_hours)
    for moment in moments:
        offset = (aware(moment) - start) // dt.timedelta(hours=1)
        if 0 <= offset < len(counts):
            counts[offset] += 1
    return counts


def histogram_labels(bins: int = 10, low: float = 0.0, high: float = 100.0) -> list[str]:
    """Name each bin by its range: "0–10" ... "90–100"."""
    width = (high - low) / bins
    return [f"{low + i * width:g}–{low + (i + 1) * width:g}" for i in range(bins)]


def hourly_labels(before_hours: int = 48, after_hours: int = 24) -> list[str]:
    """Label each hour by its start relative to the deadline: "-48 h" ... "+23 h"."""
    return [f"{h:+d} h to {h + 1:+d} h" for h in range(-before_hours, after_hours)]


def upload_moments(session: Session, assignment_id: int) -> list[dt.datetime]:
    """Return when each upload of an assignment came (re-runs are not uploads)."""
    query = select(Submission.created_at).where(
        Submission.assignment_id == assignment_id, Submission.rerun_of_id.is_(None)
    )
    return list(session.scalars(query))
