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
from grader.core.policy import AssignmentPolicy
from grader.core.policy.settings import DEFAULT_PENDING_LIMIT
from grader.core.policy.timing import format_moment
from grader.models import Assignment, Extension, Submission
from grader.services import assignment_admin as admin
from grader.services import reference_builds
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
    stale = reference_builds.stale_after(services.settings())
    return render_template(
        "instructor_assignments.html",
        assignments=rows,
        submissions=submissions,
        extensions=extensions,
        references={a.id: reference_builds.reference_status(a, stale=stale) for a in rows},
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
            sessions(),
            services.settings(),
            data,
            file.filename,
            replace=request.form.get("replace") == "on",
            queue=services.queue(),
        )
    except SpecError as exc:
        return render_assignments({"upload": exc.student_message}, 400)
    verb = "replaced" if done.replaced else "added (hidden until you publish it)"
    flash(f"Assignment {done.slug} {verb}.{_build_said(done.references)}", "success")
    return redirect(url_for("instructor.settings_page", slug=done.slug))


@bp.post("/<slug>/publish")
@instructor_required
def publish(slug: str) -> Any:
    """Publish or hide an assignment."""
    row = _assignment(slug)
    published = request.form.get("published") == "1"
    try:
        build = admin.set_published(sessions(), row.id, published, _tz(), services.queue())
    except SpecError as exc:
        flash(f"{slug}: {exc.student_message}", "error")
    else:
        flash(f"{slug} is now {'published' if published else 'hidden from students'}.{_build_said(build)}", "success")
    return redirect(url_for("instructor.assignments"))


@bp.post("/<slug>/references")
@instructor_required
def build_references(slug: str) -> Any:
    """Build the assignment's reference solutions now (on a worker), unless a build is on its way."""
    row = _assignment(slug)
    stale = reference_builds.stale_after(services.settings())
    build = reference_builds.request_build(sessions(), services.queue(), row.id, stale=stale)
    if build is reference_builds.Request.SKIPPED:
        flash(f"The references of {slug} are already queued or building; this page shows when they are ready.", "info")
    else:
        flash(f"{slug}:{_build_said(build)}", "info")
    return redirect(url_for("instructor.assignments") + f"#row-{slug}")


def _build_said(build: reference_builds.Request | None) -> str:
    """A flash's sentence on a reference build just requested ("" when none was sent or needed)."""
    if build is reference_builds.Request.SENT:
        return " Its references are being built by a worker; the assignments page shows when they are ready."
    if build is reference_builds.Request.NOT_SENT:
        return " Its references could not be queued (the queue is unreachable); try Build references later."
    return ""


@bp.route("/<slug>/settings", methods=["GET", "POST"])
@instructor_required
def settings_page(slug: str) -> Any:
    """The assignment's settings form (what is in force) and its extensions; a save writes only what changed."""
    row = _assignment(slug)
    if request.method == "GET":
        shown = _settings_in_force(row)
        return _render_settings(row, shown, {}, {}, 200, original=shown)
    form = admin.form_values(request.form)
    has_original = any(key.startswith(admin.ORIGINAL) for key in request.form)
    original = admin.form_values(request.form, admin.ORIGINAL) if has_original else _settings_in_force(row)
    try:
        admin.save_settings(sessions(), row.id, request.form, _tz())
    except admin.SettingsErrors as exc:
        return _render_settings(row, form, exc.problems, {}, 400, original=original)
    except SpecError as exc:
        return _render_settings(row, form, {exc.field or "_form": exc.problem}, {}, 400, original=original)
    flash(f"Settings of {slug} saved; every grade follows them from now on.", "success")
    if form["published"] == "on":  # published from here too: its references are built as by the Publish button
        build = reference_builds.request_build(
            sessions(), services.queue(), row.id, unless=reference_builds.UNLESS_BUILT
        )
        if build is not reference_builds.Request.SKIPPED:
            flash(f"{slug}:{_build_said(build)}", "info")
    return redirect(url_for("instructor.settings_page", slug=slug))


def _settings_in_force(row: Assignment) -> dict[str, str]:
    """The form's values as in force, dates in the course's time zone (UTC while the course file is broken)."""
    try:
        return admin.form_from_policy(row, _tz())
    except SpecError:
        return admin.form_from_policy(row)


def _render_settings(
    row: Assignment,
    form: dict[str, str],
    errors: dict[str, str],
    ext_errors: dict[str, str],
    status: int,
    ext_form: dict[str, str] | None = None,
    original: dict[str, str] | None = None,
) -> Any:
    session = get_session()
    try:
        tz = _tz()
        policy = admin.read_policy(row, tz)
        described = _in_force(policy, tz)
    except SpecError as exc:
        tz, described = None, f"The saved settings cannot be read: {exc.student_message}"
    return render_template(
        "instructor_settings.html",
        a=row,
        form=form,
        original=original if original is not None else form,
        errors=errors,
        late_rule=described,
        tz=tz,
        extensions=admin.list_extensions(session, row.id),
        ext_form=ext_form or {},
        ext_errors=ext_errors,
        default_pending=str(DEFAULT_PENDING_LIMIT),
    ), status


def _in_force(policy: AssignmentPolicy | None, tz: Any) -> str:
    """The dates and late rule in force, in words, above the form that edits them."""
    if policy is None:
        return "No deadline: every submission is accepted."
    opens = f"opens {format_moment(policy.opens_at, tz)}, " if policy.opens_at else ""
    text = f"{opens}due {format_moment(policy.due_at, tz)}. {policy.late.describe(tz)}"
    return text[:1].upper() + text[1:]


@bp.post("/<slug>/extensions")
@instructor_required
def grant_extension(slug: str) -> Any:
    """Grant or change one student's extension."""
    row = _assignment(slug)
    form = {k: request.form.get(k, "") for k in ("email", "due_at", "last_accepted", "reason")}
    try:
        admin.grant_extension(sessions(), row.id, form, user_row(get_session()).id, _tz())
    except SpecError as exc:
        shown = _settings_in_force(row)
        return _render_settings(row, shown, {}, {exc.field or "_form": exc.problem}, 400, form, original=shown)
    flash(f"Extension for {form['email'].strip()} saved.", "success")
    return redirect(url_for("instructor.settings_page", slug=slug) + "#extensions")


@bp.post("/<slug>/extensions/<int:extension_id>/revoke")
@instructor_required
def revoke_extension(slug: str, extension_id: int) -> Any:
    """Withdraw an extension."""
    row = _assignment(slug)
    if not admin.revoke_extension(sessions(), row.id, extension_id):
        abort(404)
    flash("Extension withdrawn.", "success")
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
            flash(exc.student_message, "error")
        return render_template("instructor_rubric.html", a=row, text=text, problem=None, preview=None)
    text = request.form.get("yaml", "").replace("\r\n", "\n")
    try:
        if request.form.get("action") == "save":
            saved = save_rubric(sessions(), row.id, text, user_row(session).id)
            flash(
                f"Rubric saved (revision {saved.revision_id}): {saved.rescored} stored results rescored, "
                f"{saved.changed} changed." + (f" {len(saved.problems)} could not be read." if saved.problems else ""),
                "warning" if saved.problems else "success",
            )
            return redirect(url_for("instructor.rubric", slug=slug))
        preview = preview_rubric(session, row, text)
    except SpecError as exc:
        problem = RubricProblem.of(exc, text)
        return render_template("instructor_rubric.html", a=row, text=text, problem=problem, preview=None), 400
    return render_template("instructor_rubric.html", a=row, text=text, problem=None, preview=preview)
