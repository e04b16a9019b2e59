"""Grades pages: a student's own grades, staff's view of any student's, and the staff score form.

Students see only their own grades: each published assignment's raw score,
late penalty, extension, override and final, each with the rule behind it,
and the course grade (components, weights, total, what is missing); a grade
that would reveal a score hidden by the daily limit reads "hidden until ...",
and so do the components and total it enters. Staff may
open the same page for any student, and enter or import the scores of staff
components (TAs and instructors alike: the issue says "entered by staff").
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from grader.core.errors import SpecError
from grader.core.scores_csv import ScoresFileError
from grader.models import User
from grader.services.course_grades import StudentGrades, grades_of, load_course
from grader.services.grades import all_assignments, students
from grader.services.staff_scores import (
    import_scores,
    parse_form_scores,
    save_scores,
    scores_of_component,
    staff_component,
    staff_components,
)
from grader.web import services
from grader.web.auth import staff_required, user_row
from grader.web.database import get_session

bp = Blueprint("grades", __name__)

COURSE_BROKEN = "Grades cannot be shown right now: the course settings have a mistake that staff must fix."


def init_app(app: Flask) -> None:
    """Register the grades pages."""
    app.register_blueprint(bp)


def _render_grades(user: User, *, viewer_is_staff: bool) -> Any:
    session = get_session()
    try:
        grades: StudentGrades | None = grades_of(session, services.settings(), user, staff_view=viewer_is_staff)
    except SpecError as exc:
        detail = exc.staff_detail if viewer_is_staff else None
        return render_template("grades.html", student=user, grades=None, error=COURSE_BROKEN, detail=detail), 503
    shown = [(a, g) for a, g in grades.assignments if a.published or viewer_is_staff]
    return render_template(
        "grades.html", student=user, grades=grades, shown=shown, course=grades.spec, error=None, detail=None
    )


@bp.get("/grades")
@login_required
def my_grades() -> Any:
    """Show the logged-in user's own grades with the rule behind each number."""
    return _render_grades(user_row(get_session()), viewer_is_staff=False)


@bp.get("/staff/students/<int:user_id>/grades")
@staff_required
def student_grades(user_id: int) -> Any:
    """Show any student's grades page, as the student sees it (hidden assignments included for staff)."""
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return _render_grades(user, viewer_is_staff=True)


def _course_or_error() -> tuple[Any, str | None]:
    session = get_session()
    try:
        return load_course(services.settings(), {a.slug for a in all_assignments(session)}), None
    except SpecError as exc:
        return None, exc.staff_detail


@bp.get("/staff/scores")
@staff_required
def scores_form() -> Any:
    """Show the staff components and, for the chosen one, a score field per student."""
    return _render_scores(request.args.get("component", ""), {}, {}, 200)


def _render_scores(
    component_id: str, typed: dict[int, str], problems: dict[int, str], status: int, sheet: list[str] | None = None
) -> Any:
    course, broken = _course_or_error()
    if course is None:
        return render_template("staff_scores.html", broken=broken, components=[], component=None), 503
    components = staff_components(course)
    chosen = next((c for c in components if c.id == component_id), components[0] if components else None)
    people = students(get_session())
    current = scores_of_component(get_session(), chosen.id) if chosen else {}
    values = {p.id: typed.get(p.id, "" if current.get(p.id) is None else f"{current[p.id]:g}") for p in people}
    return (
        render_template(
            "staff_scores.html",
            broken=None,
            components=components,
            component=chosen,
            students=people,
            values=values,
            problems=problems,
            sheet=sheet or [],
        ),
        status,
    )


@bp.post("/staff/scores/<component_id>")
@staff_required
def save_scores_form(component_id: str) -> Any:
    """Save the typed scores of one component: all of them, or none while any field is wrong."""
    course, broken = _course_or_error()
    if course is None:
        return render_template("staff_scores.html", broken=broken, components=[], component=None), 503
    try:
        component = staff_component(course, component_id)
    except SpecError as exc:
        flash(exc.problem, "error")
        return redirect(url_for("grades.scores_form"))
    session = get_session()
    people = students(session)
    typed = {p.id: request.form.get(f"score-{p.id}", "") for p in people}
    scores, problems = parse_form_scores(typed)
    if problems:
        return _render_scores(component.id, typed, problems, 400)
    staff = user_row(session)
    report = save_scores(session, component.id, scores, staff.id)
    session.commit()
    flash(f"Saved {report.summary(component.title)}", "success")
    return redirect(url_for("grades.scores_form", component=component.id))


@bp.post("/staff/scores/<component_id>/import")
@staff_required
def import_scores_form(component_id: str) -> Any:
    """Import a CSV sheet (email,score) into one component: every row, or none with every bad line listed."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render_scores(component_id, {}, {}, 400, ["Choose a CSV file with the columns email,score first."])
    course, broken = _course_or_error()
    if course is None:
        return render_template("staff_scores.html", broken=broken, components=[], component=None), 503
    session = get_session()
    try:
        report = import_scores(session, course, component_id, upload.read(), upload.filename, user_row(session).id)
    except ScoresFileError as exc:
        session.rollback()
        return _render_scores(component_id, {}, {}, 400, [f"{upload.filename}: nothing imported.", *exc.problems])
    except SpecError as exc:
        session.rollback()
        return _render_scores(component_id, {}, {}, 400, [exc.problem])
    session.commit()
    flash(f"Imported {upload.filename}: {report.summary(component_id)}", "success")
    return redirect(url_for("grades.scores_form", component=component_id))
