"""The gradebook (staff): every student's grades in one table, its CSV export, and charts per assignment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from grader.core.errors import SpecError
from grader.models import Assignment
from grader.services.course_grades import CourseReport, course_report
from grader.services.gradebook import (
    build_gradebook,
    gradebook_csv,
    histogram,
    histogram_labels,
    hourly_counts,
    hourly_labels,
    upload_moments,
)
from grader.web import charts, services
from grader.web.auth import staff_required
from grader.web.database import get_session

bp = Blueprint("gradebook", __name__, url_prefix="/staff")

BEFORE_HOURS, AFTER_HOURS, HOURS_PER_TICK = 48, 24, 12


def init_app(app: Flask) -> None:
    """Register the gradebook pages."""
    app.register_blueprint(bp)


@bp.get("/gradebook")
@staff_required
def gradebook() -> Any:
    """Show one row per student, a column per assignment and component, the course grade; and the charts."""
    session = get_session()
    try:
        report = course_report(session, services.settings())
    except SpecError as exc:
        return render_template("gradebook.html", book=None, broken=exc.staff_detail, charts=[]), 503
    charts_of = [_assignment_charts(session, report, assignment) for assignment in report.assignments]
    return render_template(
        "gradebook.html",
        book=build_gradebook(report),
        broken=None,
        charts=charts_of,
        course=report.course,
        before=BEFORE_HOURS,
        after=AFTER_HOURS,
    )


def _assignment_charts(session: Session, report: CourseReport, assignment: Assignment) -> dict[str, Any]:
    """The histogram of an assignment's finals and, when it has a due date, its uploads per hour around it."""
    percents = [
        grade.percent
        for student in report.students
        for graded, grade in student.assignments
        if graded.id == assignment.id and grade.percent is not None
    ]
    hours = None
    if assignment.due_at is not None:
        moments = upload_moments(session, assignment.id)
        hours = upload_chart(hourly_counts(moments, assignment.due_at, BEFORE_HOURS, AFTER_HOURS), assignment.slug)
    return {
        "assignment": assignment,
        "graded": len(percents),
        "scores": score_chart(percents, assignment.slug),
        "hours": hours,
    }


def score_chart(percents: list[float], slug: str) -> Markup:
    """Draw how many students' finals fall in each tenth of the points, each bin named on the x axis."""
    names = histogram_labels()
    return charts.histogram(
        histogram(percents),
        [(index + 0.5, name) for index, name in enumerate(names)],
        label=f"Final scores of {slug}, students per 10% of the points",
        x_title="final score (% of the points)",
        y_title="students",
        bins=[f"{name}%" for name in names],
    )


def upload_chart(counts: list[int], slug: str) -> Markup:
    """Draw the uploads of each hour from BEFORE_HOURS before the due date to AFTER_HOURS after it."""
    hours = range(-BEFORE_HOURS, AFTER_HOURS + 1, HOURS_PER_TICK)
    return charts.histogram(
        counts,
        [(hour + BEFORE_HOURS, f"{hour:+d} h" if hour else "0") for hour in hours],
        label=f"Uploads per hour around the due date of {slug}",
        x_title="hours from the due date",
        y_title="uploads",
        bins=hourly_labels(BEFORE_HOURS, AFTER_HOURS),
        marker=(BEFORE_HOURS, "due date"),
    )


@bp.get("/gradebook.csv")
@staff_required
def gradebook_export() -> Any:
    """Download the gradebook as CSV (one row per student)."""
    try:
        report = course_report(get_session(), services.settings())
    except SpecError as exc:
        return Response(f"The gradebook cannot be built: {exc.staff_detail}\n", status=503, mimetype="text/plain")
    return Response(
        gradebook_csv(build_gradebook(report)),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=gradebook.csv"},
    )
