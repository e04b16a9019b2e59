"""TAs' review pages and API (TAs and instructors): search submissions, read a grading log, override, re-run.

Site: /staff/submissions (search and filter, bulk re-run), /staff/submissions/N
(the grading log with the override and re-run forms). API (token):
GET /api/v1/staff/submissions[/N], POST /api/v1/staff/submissions/N/override
({points, reason}), .../override/withdraw ({reason}), .../rerun, and
POST /api/v1/staff/submissions/rerun ({ids}). Students get 403; anonymous
visitors the login page (site) or 401 (API).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, g, jsonify, redirect, render_template, request, url_for

from grader.core.outcomes import Outcome
from grader.models import State, Submission, User
from grader.services.overrides import ActionRefused, override_score, withdraw_override
from grader.services.reruns import RerunReport, request_reruns
from grader.web import services
from grader.web.api import authenticate
from grader.web.auth import csrf, staff_required, user_row
from grader.web.database import get_session, sessions
from grader.web.errors import error
from grader.web.grading_log import grading_log
from grader.web.queries import assignment_slugs, parse_filter, search_submissions

bp = Blueprint("review", __name__, url_prefix="/staff")
api_bp = Blueprint("review_api", __name__, url_prefix="/api/v1/staff")
PER_PAGE = 50


def init_app(app: Flask) -> None:
    """Register the review pages and the staff API (token auth, exempt from CSRF like the rest of the API)."""
    app.register_blueprint(bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 10**6 else 1


def _search_context() -> dict[str, Any]:
    """The search page's filter (with any mistakes) and its page of results."""
    wanted, errors = parse_filter(request.args)
    found = search_submissions(get_session(), wanted, _page_number(request.args.get("page")), PER_PAGE)
    return {
        "wanted": wanted,
        "errors": errors,
        "found": found,
        "slugs": assignment_slugs(get_session()),
        "states": [s.value for s in State],
        "outcomes": [o.value for o in Outcome],
    }


@bp.get("/submissions")
@staff_required
def submissions() -> Any:
    """Search and filter every submission, newest first; only the run in force of each chain unless asked."""
    return render_template("review_search.html", **_search_context())


def _submission(submission_id: int) -> Submission:
    sub = get_session().get(Submission, submission_id)
    if sub is None:
        abort(404)
    return sub


def _render_log(submission_id: int, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    """The grading-log page, with form mistakes shown next to their fields."""
    sub = _submission(submission_id)
    log = grading_log(get_session(), sub, services.settings())
    return render_template("review_log.html", s=log, errors=errors or {}, form=request.form), status


@bp.get("/submissions/<int:submission_id>")
@staff_required
def submission_log(submission_id: int) -> Any:
    """Show a submission's grading log: output, outcome and limits, resources, environment, timings, history."""
    return _render_log(submission_id)


@bp.post("/submissions/<int:submission_id>/override")
@staff_required
def override(submission_id: int) -> Any:
    """Set the score with a required reason; a mistake is shown next to its field and nothing is written."""
    session = get_session()
    _submission(submission_id)
    try:
        row = override_score(
            session,
            submission_id=submission_id,
            staff=user_row(session),
            points=request.form.get("points", ""),
            reason=request.form.get("reason", ""),
        )
        session.commit()
    except ActionRefused as exc:
        session.rollback()
        return _render_log(submission_id, {exc.field or "override": exc.student_message}, 400)
    flash(f"Score of #{submission_id} set to {row.points_after:g}; the student sees it with your reason.")
    return redirect(url_for("review.submission_log", submission_id=submission_id))


@bp.post("/submissions/<int:submission_id>/override/withdraw")
@staff_required
def withdraw(submission_id: int) -> Any:
    """Withdraw the override in force (with a reason): the rubric's score counts again."""
    session = get_session()
    _submission(submission_id)
    try:
        withdraw_override(
            session, submission_id=submission_id, staff=user_row(session), reason=request.form.get("reason", "")
        )
        session.commit()
    except ActionRefused as exc:
        session.rollback()
        return _render_log(submission_id, {"withdraw": exc.student_message}, 400)
    flash(f"Override of #{submission_id} withdrawn; the rubric's score counts again.")
    return redirect(url_for("review.submission_log", submission_id=submission_id))


def _rerun(ids: list[int], staff_id: int) -> RerunReport:
    return request_reruns(sessions(), services.queue(), submission_ids=ids, staff_id=staff_id)


@bp.post("/submissions/<int:submission_id>/rerun")
@staff_required
def rerun(submission_id: int) -> Any:
    """Queue a re-run of this submission's upload at low priority; show the new run's log."""
    _submission(submission_id)
    report = _rerun([submission_id], user_row(get_session()).id)
    flash(report.summary())
    target = report.queued.get(submission_id, submission_id)
    return redirect(url_for("review.submission_log", submission_id=target))


def _ids(values: list[Any]) -> list[int] | None:
    """The submission ids of a form or JSON list; None when one is not an id."""
    ids = []
    for value in values:
        text = str(value).strip()
        if not text.isdigit() or len(text) > 12:
            return None
        ids.append(int(text))
    return ids


@bp.post("/submissions/rerun")
@staff_required
def rerun_many() -> Any:
    """Queue re-runs of the ticked submissions; say what was queued and what was not."""
    back = request.form.get("back", "")
    back = back if back.startswith("/staff/submissions") else url_for("review.submissions")
    ids = _ids(request.form.getlist("ids"))
    if ids is None:
        flash("Those are not submission ids; tick the submissions to re-run.")
        return redirect(back)
    try:
        report = _rerun(ids, user_row(get_session()).id)
    except ActionRefused as exc:
        flash(exc.student_message)
        return redirect(back)
    flash(report.summary())
    return redirect(back)


# The API: the same actions with a token.


@api_bp.before_request
def api_staff_only() -> Any:
    """Answer 401 without a valid token, 403 for students."""
    refused = authenticate()
    if refused is not None:
        return refused
    if not g.api_user.role.is_staff:
        return error("Only TAs and instructors may review submissions.", 403)
    return None


def _api_user() -> User:
    return get_session().get(User, g.api_user.id)


@api_bp.get("/submissions")
def api_search() -> Any:
    """Search like the page does (same query parameters); 400 naming each bad parameter."""
    wanted, errors = parse_filter(request.args)
    if errors:
        return error(" ".join(f"{field}: {message}" for field, message in errors.items()), 400)
    found = search_submissions(get_session(), wanted, _page_number(request.args.get("page")), PER_PAGE)
    rows = [
        {
            "id": row.submission.id,
            "student": row.submission.user.email,
            "assignment": row.submission.assignment.slug,
            "state": row.submission.state.value,
            "outcome": row.submission.outcome,
            "score": row.submission.score,
            "score_in_force": row.score,
            "max_score": row.submission.max_score,
            "rerun_of": row.submission.rerun_of_id,
            "runs": row.runs,
            "in_force": row.in_force,
        }
        for row in found.rows
    ]
    return jsonify(submissions=rows, total=found.total, page=found.page, pages=found.pages)


@api_bp.get("/submissions/<int:submission_id>")
def api_log(submission_id: int) -> Any:
    """The grading log as JSON."""
    sub = get_session().get(Submission, submission_id)
    if sub is None:
        return error("No such submission.", 404)
    return jsonify(grading_log(get_session(), sub, services.settings()))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@api_bp.post("/submissions/<int:submission_id>/override")
def api_override(submission_id: int) -> Any:
    """Override with JSON {points, reason}; 400 saying what is wrong, and nothing written."""
    session = get_session()
    body = _json_body()
    try:
        row = override_score(
            session,
            submission_id=submission_id,
            staff=_api_user(),
            points=body.get("points"),
            reason=body.get("reason"),
        )
        session.commit()
    except ActionRefused as exc:
        session.rollback()
        return error(exc.student_message, 404 if exc.field == "submission" else 400)
    return jsonify(submission=submission_id, points_before=row.points_before, points_after=row.points_after), 201


@api_bp.post("/submissions/<int:submission_id>/override/withdraw")
def api_withdraw(submission_id: int) -> Any:
    """Withdraw the override in force with JSON {reason}."""
    session = get_session()
    try:
        row = withdraw_override(
            session, submission_id=submission_id, staff=_api_user(), reason=_json_body().get("reason")
        )
        session.commit()
    except ActionRefused as exc:
        session.rollback()
        return error(exc.student_message, 404 if exc.field == "submission" else 400)
    return jsonify(submission=submission_id, points_before=row.points_before, points_after=None), 201


@api_bp.post("/submissions/<int:submission_id>/rerun")
def api_rerun(submission_id: int) -> Any:
    """Re-run one submission: 202 with {queued: {asked: new}, skipped: {asked: why}}."""
    return _api_rerun([submission_id])


@api_bp.post("/submissions/rerun")
def api_rerun_many() -> Any:
    """Re-run several: JSON {ids: [...]}."""
    ids = _json_body().get("ids")
    parsed = _ids(ids) if isinstance(ids, list) else None
    if parsed is None:
        return error('Send JSON {"ids": [submission ids]}.', 400)
    return _api_rerun(parsed)


def _api_rerun(ids: list[int]) -> Any:
    try:
        report = _rerun(ids, g.api_user.id)
    except ActionRefused as exc:
        return error(exc.student_message, 400)
    return jsonify(queued=report.queued, skipped=report.skipped), 202
