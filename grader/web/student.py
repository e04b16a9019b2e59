"""Student pages: assignments with deadlines, each assignment's page (statement, starter, rubric, dates), uploads,
their submissions with live status."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required
from sqlalchemy import select

from grader.core.errors import BadSubmission, InfrastructureError
from grader.models import Assignment, utcnow
from grader.services.assignment_page import (
    rubric_summary,
    starter_files,
    starter_path,
    statement_text,
    student_dates,
)
from grader.services.dispatch import PendingLimitReached
from grader.services.feedback import quota_today
from grader.web import services
from grader.web.auth import user_row
from grader.web.database import get_session
from grader.web.errors import RETRY_AFTER_BUSY, too_large_message
from grader.web.feedback import FULL, Feedback, course_timezone, student_feedback
from grader.web.markdown import render_statement
from grader.web.present import submission_json
from grader.web.queries import own_submissions, published_assignments, visible_submission

bp = Blueprint("student", __name__)


def init_app(app: Flask) -> None:
    """Register the student pages."""
    app.register_blueprint(bp)


@bp.get("/")
@login_required
def assignments() -> Any:
    """List the assignments with deadlines, a countdown and an upload form each."""
    return render_assignments({}, 200)


def render_assignments(errors: dict[str, str], status: int) -> Any:
    """Render the assignments page with upload errors shown next to their forms.

    An upload refused from an assignment's own page (`?from=assignment`, readable even when the
    body is too large to parse) is shown on that page instead.
    """
    if request.method == "POST" and request.args.get("from") == "assignment" and len(errors) == 1:
        [(slug, message)] = errors.items()
        return render_assignment_page(slug, message, status)
    session = get_session()
    listed = published_assignments(session)
    settings = services.settings()
    tz, now, user = course_timezone(settings), utcnow(), user_row(session)
    dates = {a.id: student_dates(session, a, user.id, tz, now) for a in listed}
    limit = settings.upload_max_bytes
    return render_template("assignments.html", assignments=listed, dates=dates, errors=errors, limit=limit), status


@bp.get("/assignments/<slug>")
@login_required
def assignment(slug: str) -> Any:
    """An assignment's page: statement, starter, how it is graded, the student's dates, and the upload form."""
    return render_assignment_page(slug, "", 200)


def _shown_assignment(slug: str) -> Assignment:
    """The assignment a student may open (published; staff see hidden ones too), else 404."""
    session = get_session()
    row = session.scalars(select(Assignment).where(Assignment.slug == slug)).first()
    if row is None or not (row.published or user_row(session).role.is_staff):
        abort(404)
    return row


def render_assignment_page(slug: str, error: str, status: int) -> Any:
    """Render one assignment's page, with an upload's refusal next to the form."""
    row = _shown_assignment(slug)
    session, settings = get_session(), services.settings()
    user, tz, now = user_row(session), course_timezone(settings), utcnow()
    text = statement_text(row, settings)
    return render_template(
        "assignment.html",
        a=row,
        statement=render_statement(text, row.title) if text is not None else None,
        starters=starter_files(row, settings),
        rubric=rubric_summary(session, row, settings),
        dates=student_dates(session, row, user.id, tz, now),
        quota=quota_today(session, user.id, row, tz, now),
        error=error,
        limit=settings.upload_max_bytes,
    ), status


@bp.get("/assignments/<slug>/starter/<name>")
@login_required
def starter(slug: str, name: str) -> Any:
    """Download one of the assignment's starter files (only a declared starter's name; never a path)."""
    path = starter_path(_shown_assignment(slug), services.settings(), name)
    if path is None:
        abort(404)
    return send_file(path, mimetype="text/x-python", as_attachment=True, download_name=name, max_age=0)


@bp.post("/assignments/<slug>/submit")
@login_required
def submit(slug: str) -> Any:
    """Take an upload from the form; show any problem next to that assignment's form."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_assignments({slug: "Choose a .py, .zip or .ipynb file first."}, 400)
    data = upload.read()
    if len(data) > services.settings().upload_max_bytes:
        return render_assignments({slug: too_large_message()}, 413)
    try:
        sid = services.accept_upload(
            user_id=user_row(get_session()).id, assignment_slug=slug, filename=upload.filename, data=data
        )
    except PendingLimitReached as exc:  # not a bad file: too many at once; the same upload succeeds later
        return render_assignments({slug: exc.student_message}, 429)
    except BadSubmission as exc:
        return render_assignments({slug: exc.student_message}, 400)
    except InfrastructureError as exc:  # ours (busy, a full disk): nothing stored, worth a retry
        current_app.logger.warning("upload not checked: %s", exc.staff_detail)
        page, _ = render_assignments({slug: exc.student_message}, 503)
        return page, 503, {"Retry-After": str(RETRY_AFTER_BUSY)}
    return redirect(url_for("student.submission", submission_id=sid))


@bp.get("/submissions")
@login_required
def submissions() -> Any:
    """List the student's own submissions with their live status."""
    session = get_session()
    user = user_row(session)
    tz = course_timezone(services.settings())
    levels: dict[int, dict[int, Feedback]] = {}  # per assignment: one query for all of its rows
    rows = []
    for sub in own_submissions(session, user):
        if sub.assignment_id not in levels:
            levels[sub.assignment_id] = student_feedback(session, user.id, sub.assignment, tz)
        feedback = levels[sub.assignment_id].get(sub.id, FULL)
        rows.append(submission_json(session, sub, sub.assignment, viewer=user, feedback=feedback))
    return render_template("submissions.html", submissions=rows)


def _visible(submission_id: int) -> dict[str, Any]:
    """Return the submission as JSON if the user may see it, else 404."""
    session = get_session()
    user = user_row(session)
    sub = visible_submission(session, user, submission_id)
    if sub is None:
        abort(404)
    return submission_json(session, sub, sub.assignment, viewer=user)


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int) -> Any:
    """Show one submission: criteria with feedback, metrics, the captured log."""
    return render_template("submission.html", s=_visible(submission_id))


@bp.get("/submissions/<int:submission_id>/status.json")
@login_required
def submission_status(submission_id: int) -> Any:
    """Return the submission's live status for the page to poll."""
    return jsonify(_visible(submission_id))


@bp.get("/submissions/<int:submission_id>/log")
@login_required
def submission_log(submission_id: int) -> Any:
    """Return the run's captured output as plain text (never sniffed or run as anything else: see headers.py)."""
    return Response(_visible(submission_id)["log"] or "", content_type="text/plain; charset=utf-8")
