"""Instructor pages: assignments (publish or hide, dates, late policy, daily limit, which submission counts),
extensions, the rubric editor with a preview of every score it moves, and new assignments uploaded as a zip.

Only instructors reach these pages (TAs get 403). Every form posts with its
CSRF token (CSRFProtect is global); a mistake is shown next to its field and
nothing is saved; a save redirects, so a reload never posts twice.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from grader.core.errors import SpecError
from grader.models import Assignment, Extension, Submission
from grader.services import assignment_admin as admin
from grader.services.assignment_upload import install_assignment_zip
from grader.services.rubrics import RubricProblem, preview_rubric, rubric_text_in_force, save_rubric
from grader.web import services
from grader.web.auth import instructor_required, user_row
from grader.web.database import get_session, sessions
from grader.web.errors import too_large_message

bp = Blueprint("instructor", __name__, url_prefix="/staff/assignments")


def init_app(app: Flask) -> None:
    """Register the instructor pages."""
    app.register_blueprint(bp)


def _assignment(slug: str) -> Assignment:
    row = get_session().scalars(select(Assignment).where(Assignment.slug == slug)).first()
    if row is None:
        abort(404)
    return row


def _tz() -> Any:
    """The course's time zone; a broken course file is shown to the instructor rather than guessed around."""
    return admin.course_timezone(services.settings())


@bp.get("/")
@instructor_required
def assignments() -> Any:
    """List every assignment with its state, dates, rules and counts, and the zip upload form."""
    return render_assignments({}, 200)


def render_assignments(errors: dict[str, str], status: int) -> Any:
    session = get_session()
    rows = list(session.scalars(select(Assignment).order_by(Assignment.topic, Assignment.slug)))
    submissions = dict(
        session.execute(select(Submission.assignment_id, func.count()).group_by(Submission.assignment_id)).all()
    )
    extensions = dict(
        session.execute(select(Extension.assignment_id, func.count()).group_by(Extension.assignment_id)).all()
    )
    return render_template(
        "instructor_assignments.html",
        assignments=rows,
        submissions=submissions,
        extensions=extensions,
        errors=errors,
        limit=services.settings().upload_max_bytes,
    ), status


@bp.post("/upload")
@instructor_required
def upload() -> Any:
    """Install a new assignment folder from a zip; problems name the file and field."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return render_assignments({"upload": "Choose the assignment's .zip first."}, 400)
    data = file.read()
    if len(data) > services.settings().upload_max_bytes:
        return render_assignments({"upload": too_large_message()}, 413)
    try:
        done = install_assignment_zip(
            sessions(), services.settings(), data, file.filename, replace=request.form.get("replace") == "on"
        )
    except SpecError as exc:
        return render_assignments({"upload": exc.student_message}, 400)
    verb = "replaced" if done.replaced else "added (hidden until you publish it)"
    flash(f"Assignment {done.slug} {verb}.")
    return redirect(url_for("instructor.settings_page", slug=done.slug))


@bp.post("/<slug>/publish")
@instructor_required
def publish(slug: str) -> Any:
    """Publish or hide an assignment."""
    row = _assignment(slug)
    published = request.form.get("published") == "1"
    try:
        admin.set_published(sessions(), row.id, published, _tz())
    except SpecError as exc:
        flash(f"{slug}: {exc.student_message}")
    else:
        flash(f"{slug} is now {'published' if published else 'hidden from students'}.")
    return redirect(url_for("instructor.assignments"))


@bp.route("/<slug>/settings", methods=["GET", "POST"])
@instructor_required
def settings_page(slug: str) -> Any:
    """The assignment's settings form and its extensions."""
    row = _assignment(slug)
    if request.method == "GET":
        return _render_settings(row, admin.form_from_policy(row), {}, {}, 200)
    form = {name: request.form.get(name, "") for name in admin.POLICY_FIELDS}
    try:
        admin.save_settings(sessions(), row.id, form, _tz())
    except SpecError as exc:
        return _render_settings(row, form, {exc.field or "_form": exc.problem}, {}, 400)
    flash(f"Settings of {slug} saved; every grade follows them from now on.")
    return redirect(url_for("instructor.settings_page", slug=slug))


def _render_settings(
    row: Assignment,
    form: dict[str, str],
    errors: dict[str, str],
    ext_errors: dict[str, str],
    status: int,
    ext_form: dict[str, str] | None = None,
) -> Any:
    session = get_session()
    try:
        tz = _tz()
        policy = admin.read_policy(row, tz)
        described = policy.late.describe(tz) if policy else "No deadline: every submission is accepted."
    except SpecError as exc:
        tz, described = None, f"The saved settings cannot be read: {exc.student_message}"
    return render_template(
        "instructor_settings.html",
        a=row,
        form=form,
        errors=errors,
        late_rule=described,
        tz=tz,
        extensions=admin.list_extensions(session, row.id),
        ext_form=ext_form or {},
        ext_errors=ext_errors,
    ), status


@bp.post("/<slug>/extensions")
@instructor_required
def grant_extension(slug: str) -> Any:
    """Grant or change one student's extension."""
    row = _assignment(slug)
    form = {k: request.form.get(k, "") for k in ("email", "due_at", "last_accepted", "reason")}
    try:
        admin.grant_extension(sessions(), row.id, form, user_row(get_session()).id, _tz())
    except SpecError as exc:
        return _render_settings(row, admin.form_from_policy(row), {}, {exc.field or "_form": exc.problem}, 400, form)
    flash(f"Extension for {form['email'].strip()} saved.")
    return redirect(url_for("instructor.settings_page", slug=slug) + "#extensions")


@bp.post("/<slug>/extensions/<int:extension_id>/revoke")
@instructor_required
def revoke_extension(slug: str, extension_id: int) -> Any:
    """Withdraw an extension."""
    row = _assignment(slug)
    if not admin.revoke_extension(sessions(), row.id, extension_id):
        abort(404)
    flash("Extension withdrawn.")
    return redirect(url_for("instructor.settings_page", slug=slug) + "#extensions")


@bp.route("/<slug>/rubric", methods=["GET", "POST"])
@instructor_required
def rubric(slug: str) -> Any:
    """The rubric editor: Preview shows errors in place or every score change; Save saves and rescores."""
    row = _assignment(slug)
    session = get_session()
    if request.method == "GET":
        try:
            text = rubric_text_in_force(session, row, services.settings())
        except SpecError as exc:
            text = ""
            flash(exc.student_message)
        return render_template("instructor_rubric.html", a=row, text=text, problem=None, preview=None)
    text = request.form.get("yaml", "").replace("\r\n", "\n")
    try:
        if request.form.get("action") == "save":
            saved = save_rubric(sessions(), row.id, text, user_row(session).id)
            flash(
                f"Rubric saved (revision {saved.revision_id}): {saved.rescored} stored results rescored, "
                f"{saved.changed} changed." + (f" {len(saved.problems)} could not be read." if saved.problems else "")
            )
            return redirect(url_for("instructor.rubric", slug=slug))
        preview = preview_rubric(session, row, text)
    except SpecError as exc:
        problem = RubricProblem.of(exc, text)
        return render_template("instructor_rubric.html", a=row, text=text, problem=problem, preview=None), 400
    return render_template("instructor_rubric.html", a=row, text=text, problem=None, preview=preview)
