"""The gradebook (staff): every student's grades in one table, its CSV export, and charts per assignment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, render_template

from grader.core.errors import SpecError
from grader.services.course_grades import course_report
from grader.services.gradebook import (
    bar_chart,
    build_gradebook,
    gradebook_csv,
    histogram,
    histogram_labels,
    hourly_counts,
    hourly_labels,
    upload_moments,
)
from grader.web import services
from grader.web.auth import staff_required
from grader.web.database import get_session

bp = Blueprint("gradebook", __name__, url_prefix="/staff")

BEFORE_HOURS, AFTER_HOURS = 48, 24
CHART_WIDTH, CHART_HEIGHT = 600, 140


def init_app(app: Flask) -> None:
    """Register the gradebook pages."""
    app.register_blueprint(bp)


@bp.get("/gradebook")
@staff_required
def gradebook() -> Any:
    """Show one row per student, a column per assignment and component, the final; and the charts."""
    session = get_session()
    try:
        report = course_report(session, services.settings())
    except SpecError as exc:
        return render_template("gradebook.html", book=None, broken=exc.staff_detail, charts=[]), 503
    book = build_gradebook(report)
    charts = []
    for assignment in report.assignments:
        percents = [
            grade.percent
            for student in report.students
            for graded, grade in student.assignments
            if graded.id == assignment.id and grade.percent is not None
        ]
        scores = bar_chart(histogram(percents), histogram_labels(), CHART_WIDTH, CHART_HEIGHT)
        hours = None
        if assignment.due_at is not None:
            counts = hourly_counts(upload_moments(session, assignment.id), assignment.due_at, BEFORE_HOURS, AFTER_HOURS)
            hours = bar_chart(counts, hourly_labels(BEFORE_HOURS, AFTER_HOURS), CHART_WIDTH, CHART_HEIGHT)
        charts.append({"assignment": assignment, "graded": len(percents), "scores": scores, "hours": hours})
    return render_template(
        "gradebook.html",
        book=book,
        broken=None,
        charts=charts,
        course=report.course,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        before=BEFORE_HOURS,
        after=AFTER_HOURS,
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
