"""Student pages: assignments with deadlines, uploads, their submissions with live status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from grader.core.errors import BadSubmission, InfrastructureError
from grader.web import services
from grader.web.auth import user_row
from grader.web.database import get_session
from grader.web.errors import RETRY_AFTER_BUSY, too_large_message
from grader.web.feedback import FULL, Feedback, course_timezone, student_feedback
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
    """Render the assignments page with upload errors shown next to their forms."""
    listed = published_assignments(get_session())
    limit = services.settings().upload_max_bytes
    return render_template("assignments.html", assignments=listed, errors=errors, limit=limit), status


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
