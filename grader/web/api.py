"""HTTP API v1: token auth (`Authorization: Bearer <token>`), JSON in and out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request, url_for

from grader.core.errors import BadSubmission, InfrastructureError, SpecError
from grader.services.accounts import TokenRefused, check_token
from grader.services.dispatch import PendingLimitReached
from grader.web import services
from grader.web.auth import csrf
from grader.web.database import get_session
from grader.web.errors import RETRY_AFTER_BUSY, error, too_large_message
from grader.web.present import assignment_json, submission_json
from grader.web.queries import published_assignments, visible_submission

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """Register the API, exempt from CSRF (it takes no cookies)."""
    csrf.exempt(bp)
    app.register_blueprint(bp)


@bp.before_request
def authenticate() -> Any:
    """Find the token's user, or answer 401 saying why and where to make a new token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        user = check_token(get_session(), token.strip() if scheme.lower() == "bearer" else "")
    except TokenRefused as refused:
        return error(refusal_message(refused), 401)
    get_session().commit()  # keep last_used_at
    g.api_user = user
    return None


def refusal_message(refused: TokenRefused) -> str:
    """Say why a token did not let its bearer in, and where its owner makes a new one."""
    where = f"Make a new one on your account page: {url_for('account.page', _external=True)}"
    if refused.reason == "expired" and refused.expired_at is not None:
        return f"This API token expired on {refused.expired_at:%Y-%m-%d %H:%M} UTC. {where}"
    if refused.reason == "unknown":
        return f"This API token is not valid: it was revoked, mistyped or never made. {where}"
    return f"An API token is required: send 'Authorization: Bearer <token>'. {where}"


@bp.get("/assignments")
def list_assignments() -> Any:
    """List the published assignments with their deadlines."""
    return jsonify(assignments=[assignment_json(a) for a in published_assignments(get_session())])


@bp.post("/submissions")
def submit() -> Any:
    """Accept an upload (multipart `assignment`, `file`) and queue it: 202 with its id."""
    upload = request.files.get("file")
    slug = request.form.get("assignment", "").strip()
    if upload is None or not slug:
        return error("Send the multipart fields 'assignment' (a slug) and 'file'.", 400)
    data = upload.read()
    if len(data) > services.settings().upload_max_bytes:
        return error(too_large_message(), 413)
    try:
        submission_id = services.accept_upload(
            user_id=g.api_user.id, assignment_slug=slug, filename=upload.filename or "", data=data
        )
    except PendingLimitReached as exc:  # not a bad file: too many at once; the same upload succeeds later
        return error(exc.student_message, 429)
    except BadSubmission as exc:
        return error(exc.student_message, 400)
    except InfrastructureError as exc:  # ours (busy, a full disk): nothing stored, worth a retry
        current_app.logger.warning("upload not checked: %s", exc.staff_detail)
        response, status = error(exc.student_message, 503)
        return response, status, {"Retry-After": str(RETRY_AFTER_BUSY)}
    return jsonify(id=submission_id), 202


@bp.get("/submissions/<int:submission_id>")
def show_submission(submission_id: int) -> Any:
    """Return one of the caller's submissions (404 for anyone else's)."""
    session = get_session()
    sub = visible_submission(session, g.api_user, submission_id)
    if sub is None:
        return error("No such submission.", 404)
    return jsonify(submission_json(session, sub, sub.assignment, viewer=g.api_user))


@bp.get("/workers")
def list_workers() -> Any:
    """Staff only: the workers with their current runs, and the messages waiting per queue."""
    if not g.api_user.role.is_staff:
        return error("Only TAs and instructors may list the workers.", 403)
    from grader.web.staff import workers_report

    return jsonify(workers_report())


@bp.get("/grades/me")
def my_grades() -> Any:
    """Return the caller's course grade (components with score, weight, source; final; missing) and assignments."""
    from grader.services.course_grades import grades_of

    try:
        grades = grades_of(get_session(), services.settings(), g.api_user)
    except SpecError as exc:
        message = "Grades cannot be shown right now: the course settings have a mistake that staff must fix."
        return error(exc.staff_detail if g.api_user.role.is_staff else message, 503)
    return jsonify(grades.to_json())
