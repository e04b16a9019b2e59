"""TAs' review pages and API (TAs and instructors): search submissions, read a grading log, override, re-run.

Site: /staff/submissions (search and filter, bulk re-run), /staff/submissions/N
(the grading log with the submitted code, the override and re-run forms),
/staff/submissions/N/download (the upload as it came). API (token):
GET /api/v1/staff/submissions[/N], POST /api/v1/staff/submissions/N/override
({points, reason}), .../override/withdraw ({reason}), .../rerun
({override_choice, note}), and POST /api/v1/staff/submissions/rerun ({ids,
override_choice, note}).
Students get 403; anonymous visitors the login page (site) or 401 (API).

Re-running an upload with an override in force needs the TA's choice
(`override_choice`: keep or withdraw, grader.services.reruns); without it the page
asks with radio buttons and the API answers 409, and nothing is queued.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.datastructures import MultiDict

from grader.core.outcomes import Outcome
from grader.models import State, Submission, User
from grader.services.overrides import ActionRefused, override_score, withdraw_override
from grader.services.reruns import (
    KEEP_TEXT,
    WITHDRAW_TEXT,
    OverrideChoiceNeeded,
    RerunReport,
    parse_override_choice,
    request_reruns,
)
from grader.web import services
from grader.web.api import authenticate
from grader.web.auth import csrf, staff_required, user_row
from grader.web.code_view import MISSING, code_view, download_name, read_upload
from grader.web.database import get_session, sessions
from grader.web.errors import error
from grader.web.grading_log import grading_log
from grader.web.queries import assignment_slugs, parse_filter, search_submissions

bp = Blueprint("review", __name__, url_prefix="/staff")
api_bp = Blueprint("review_api", __name__, url_prefix="/api/v1/staff")
PER_PAGE = 50
RERUN_CHOICES = (
    ("keep", KEEP_TEXT[0].upper() + KEEP_TEXT[1:]),
    ("withdraw", WITHDRAW_TEXT[0].upper() + WITHDRAW_TEXT[1:]),
)


def init_app(app: Flask) -> None:
    """Register the review pages and the staff API (token auth, exempt from CSRF like the rest of the API)."""
    app.add_template_global(RERUN_CHOICES, "rerun_choices")  # the re-run forms' question about an override
    app.register_blueprint(bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 10**6 else 1


def _search_context(args: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The search page's filter (with any mistakes) and its page of results, from `args` or the request's."""
    args = request.args if args is None else args
    wanted, errors = parse_filter(args)
    found = search_submissions(get_session(), wanted, _page_number(args.get("page")), PER_PAGE)
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
    code = code_view(services.store(), sub)
    return render_template("review_log.html", s=log, code=code, errors=errors or {}, form=request.form), status


@bp.get("/submissions/<int:submission_id>")
@staff_required
def submission_log(submission_id: int) -> Any:
    """Show a submission's grading log: output, outcome and limits, resources, environment, timings, history."""
    return _render_log(submission_id)


@bp.get("/submissions/<int:submission_id>/download")
@staff_required
def download(submission_id: int) -> Any:
    """Send the upload's original bytes as an attachment under its own (sanitised) name."""
    sub = _submission(submission_id)
    data = read_upload(services.store(), sub)
    if data is None:
        abort(404, MISSING)
    response = send_file(
        io.BytesIO(data), mimetype="application/octet-stream", as_attachment=True, download_name=download_name(sub)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


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
    flash(f"Score of #{submission_id} set to {row.points_after:g}; the student sees it with your reason.", "success")
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
    flash(f"Override of #{submission_id} withdrawn; the rubric's score counts again.", "success")
    return redirect(url_for("review.submission_log", submission_id=submission_id))


def _rerun(ids: list[int], staff_id: int, fields: Mapping[str, Any]) -> RerunReport:
    """Re-run with the TA's choice for overrides in force: `override_choice` (keep, withdraw) and `note`."""
    return request_reruns(
        sessions(),
        services.queue(),
        submission_ids=ids,
        staff_id=staff_id,
        override_choice=parse_override_choice(fields.get("override_choice")),
        note=fields.get("note", ""),
    )


@bp.post("/submissions/<int:submission_id>/rerun")
@staff_required
def rerun(submission_id: int) -> Any:
    """Queue a re-run of this submission's upload at low priority; show the new run's log.

    An override in force needs the TA's choice: without it the log comes back with the question, nothing queued.
    """
    _submission(submission_id)
    try:
        report = _rerun([submission_id], user_row(get_session()).id, request.form)
    except ActionRefused as exc:
        return _render_log(submission_id, {exc.field or "rerun": exc.student_message}, 400)
    flash(report.summary(), "info")
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
        flash("Those are not submission ids; tick the submissions to re-run.", "error")
        return redirect(back)
    try:
        report = _rerun(ids, user_row(get_session()).id, request.form)
    except OverrideChoiceNeeded as exc:  # ask on the same list: which overrides, and what the re-run does to them
        choice = {"ids": ids, "back": back, "overridden": exc.overridden, "message": exc.student_message}
        context = _search_context(MultiDict(parse_qsl(urlsplit(back).query)))
        return render_template("review_search.html", **context, choice=choice), 400
    except ActionRefused as exc:
        flash(exc.student_message, "error")
        return redirect(back)
    flash(report.summary(), "info")
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
    """Re-run one submission (JSON {override_choice, note} if overridden): 202 with {queued, skipped, ...}."""
    return _api_rerun([submission_id])


@api_bp.post("/submissions/rerun")
def api_rerun_many() -> Any:
    """Re-run several: JSON {ids: [...], override_choice: "keep" | "withdraw", note}."""
    ids = _json_body().get("ids")
    parsed = _ids(ids) if isinstance(ids, list) else None
    if parsed is None:
        return error('Send JSON {"ids": [submission ids]}.', 400)
    return _api_rerun(parsed)


def _api_rerun(ids: list[int]) -> Any:
    """Answer 409 with each override in force when the choice is missing (nothing queued), 400 for other refusals."""
    try:
        report = _rerun(ids, g.api_user.id, _json_body())
    except OverrideChoiceNeeded as exc:
        overridden = {sid: shown.to_json() for sid, shown in exc.overridden.items()}
        return jsonify(error=exc.student_message, field=exc.field, overridden=overridden), 409
    except ActionRefused as exc:
        return error(exc.student_message, 400)
    body = {"queued": report.queued, "skipped": report.skipped, "kept": report.kept, "withdrawn": report.withdrawn}
    return jsonify(body), 202
