"""The account page: one's API tokens (create, list, revoke) and the way to the password page.

/account lists the tokens; POST /account/tokens creates one and shows it once,
with the `grader submit` line to use it; POST /account/tokens/N/revoke deletes
one of the user's own tokens (another user's id is 404, like a missing one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from grader.core.errors import SpecError
from grader.models import ApiToken, utcnow
from grader.services.accounts import (
    DEFAULT_TOKEN_DAYS,
    MAX_LIVE_TOKENS,
    MAX_TOKEN_DAYS,
    TOKEN_DAY_CHOICES,
    TOKEN_NAME_MAX,
    TokenError,
    as_utc,
    create_token,
    list_tokens,
    revoke_token,
    token_expired,
    token_expiry,
)
from grader.services.course_grades import course_timezone
from grader.web import services
from grader.web.database import get_session

bp = Blueprint("account", __name__, url_prefix="/account")


def init_app(app: Flask) -> None:
    """Register the account page."""
    app.register_blueprint(bp)


def _timezone() -> dt.tzinfo:
    """The course's time zone, in which a chosen expiry date ends; UTC when the course file is wrong."""
    try:
        return course_timezone(services.settings())
    except SpecError:
        return dt.timezone.utc


def _moment(value: dt.datetime | None) -> str:
    """A stored moment as the page shows it, in UTC to the minute."""
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _token_row(row: ApiToken, now: dt.datetime) -> dict[str, Any]:
    """One line of the token list."""
    return {
        "id": row.id,
        "name": row.name,
        "created": _moment(row.created_at),
        "expires": _moment(row.expires_at) or "never",
        "expired": token_expired(row, now),
        "last_used": _moment(row.last_used_at) or "never",
    }


def _render(status: int = 200, *, created: dict[str, str] | None = None, problem: str | None = None) -> Any:
    """The account page with the user's tokens; `created` holds a new token shown this once."""
    now = utcnow()
    rows = list_tokens(get_session(), int(current_user.id))
    tokens = [_token_row(row, now) for row in rows]
    context = {
        "tokens": tokens,
        "created": created,
        "problem": problem,
        "form": request.form,
        "server": request.host_url.rstrip("/"),
        "choices": TOKEN_DAY_CHOICES,
        "default_days": DEFAULT_TOKEN_DAYS,
        "max_days": MAX_TOKEN_DAYS,
        "max_tokens": MAX_LIVE_TOKENS,
        "name_max": TOKEN_NAME_MAX,
        "today": now.date().isoformat(),
        "last_day": (now + dt.timedelta(days=MAX_TOKEN_DAYS)).date().isoformat(),
    }
    response = render_template("account.html", **context), status
    return response if created is None else (*response, {"Cache-Control": "no-store"})


@bp.get("")
@login_required
def page() -> Any:
    """Show the user's API tokens, the form to create one and the link to change the password."""
    return _render()


def _chosen_expiry() -> str:
    """The form's expiry: a number of days from the menu, or the date typed when the menu says "date"."""
    choice = request.form.get("expires", str(DEFAULT_TOKEN_DAYS))
    return request.form.get("expires_on", "") if choice == "date" else choice


@bp.post("/tokens")
@login_required
def create() -> Any:
    """Create a token from the form and show it once; a mistake is shown above the form and nothing is made."""
    session = get_session()
    user = current_user.row
    now = utcnow()
    try:
        expires_at = token_expiry(_chosen_expiry(), now, _timezone())
        token = create_token(session, user, name=request.form.get("name", ""), expires_at=expires_at, now=now)
        session.commit()
    except TokenError as exc:
        session.rollback()
        return _render(400, problem=str(exc))
    name = " ".join(request.form.get("name", "").split())
    return _render(201, created={"token": token, "name": name})


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Any:
    """Revoke one of the user's own tokens at once; any other id is 404."""
    session = get_session()
    row = revoke_token(session, int(current_user.id), token_id)
    if row is None:
        abort(404)
    session.commit()
    flash(f'Token "{row.name}" revoked: it no longer works with grader submit or the API.', "success")
    return redirect(url_for("account.page"))
