"""Logins: server-side sessions for the site (Flask-Login), CSRF on every form, roles for staff pages.

The signed cookie holds only a login session's random token; the session's row
in the database decides whether it still works (grader.services.accounts).
Logging in opens a row and starts a fresh cookie (a new CSRF token with it);
logout ends that row, a password change and an instructor's revocation end all
of a user's. Failed logins are throttled per account and per address
(grader.services.login_throttle) and answer 429 with Retry-After.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.models import Role, User, utcnow
from grader.services.accounts import (
    AccountError,
    change_password,
    end_all_sessions,
    end_session,
    start_session,
    user_for_session,
    verify_password,
)
from grader.services.login_throttle import ThrottleSpec, forget_account_failures, record_failure, retry_after
from grader.web import services
from grader.web.database import get_session

bp = Blueprint("auth", __name__, url_prefix="/auth")
csrf = CSRFProtect()
URL_CONTROLS = "".join(map(chr, range(33)))  # C0 controls and space: browsers trim them around a URL


class SiteUser(UserMixin):
    """The logged-in user as Flask-Login sees it: `row` is the database row, `token` the login session's."""

    def __init__(self, row: User, token: str):
        self.row = row
        self.id = str(row.id)
        self.token = token

    def get_id(self) -> str:
        """What the cookie keeps: the login session's token, never the user id alone."""
        return self.token

    @property
    def is_staff(self) -> bool:
        return self.row.role.is_staff

    @property
    def is_instructor(self) -> bool:
        return self.row.role is Role.INSTRUCTOR


def init_app(app: Flask) -> None:
    """Install CSRF protection, the login manager and the auth views."""
    csrf.init_app(app)
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.user_loader(_load_user)
    app.register_blueprint(bp)


def _load_user(token: str) -> SiteUser | None:
    """Load the user of the cookie's login session, if that session is still open."""
    row = user_for_session(get_session(), token)
    return SiteUser(row, token) if row else None


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let only TAs and instructors through (403 for students)."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def instructor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let only instructors through (403 for TAs and students): rubrics, deadlines, extensions, new assignments."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.row.role is not Role.INSTRUCTOR:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def user_row(session: Session) -> User:
    """Return the logged-in user's row, bound to `session`."""
    return session.scalars(select(User).where(User.id == int(current_user.id))).one()


def _throttle() -> ThrottleSpec:
    return ThrottleSpec.from_settings(services.settings())


def _lifetime() -> dt.timedelta:
    return dt.timedelta(hours=services.settings().session_hours)


def _too_many(template: str, wait: int, **context: Any) -> Any:
    """Refuse a throttled attempt: 429, with when to try again in words and in Retry-After."""
    minutes = math.ceil(wait / 60)
    flash(f"Too many failed logins for this account or from this address. Try again in {minutes} min.", "error")
    return render_template(template, **context), 429, {"Retry-After": str(wait)}


def _log_in(row: User) -> None:
    """Open a login session and start a fresh cookie for it: nothing from before (the CSRF token too) carries over."""
    token = start_session(get_session(), row, _lifetime())
    get_session().commit()
    session.clear()
    login_user(SiteUser(row, token))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; log in on a correct email and password."""
    if request.method == "GET":
        return render_template("login.html", email="")
    db, email, address = get_session(), request.form.get("email", ""), request.remote_addr or ""
    wait = retry_after(db, _throttle(), email, address, utcnow())
    if wait is not None:
        return _too_many("login.html", wait, email=email)
    user = verify_password(db, email, request.form.get("password", ""))  # as slow for unknown emails
    if user is None:
        record_failure(db, _throttle(), email, address, utcnow())
        db.commit()
        flash("Wrong email or password.", "error")
        return render_template("login.html", email=email), 401
    forget_account_failures(db, email)
    _log_in(user)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Any:
    """End this login session and go back to the login page."""
    if current_user.is_authenticated:
        end_session(get_session(), current_user.token)
        get_session().commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change one's password; every other login of the account ends, this browser stays logged in."""
    if request.method == "GET":
        return render_template("password.html", problem=None)
    db, row, address = get_session(), user_row(get_session()), request.remote_addr or ""
    wait = retry_after(db, _throttle(), row.email, address, utcnow())
    if wait is not None:
        return _too_many("password.html", wait, problem=None)
    new = request.form.get("new_password", "")
    problem = None
    if verify_password(db, row.email, request.form.get("current_password", "")) is None:
        record_failure(db, _throttle(), row.email, address, utcnow())
        db.commit()
        problem = "Your current password is not the one typed. Type it again."
    elif new != request.form.get("confirm_password", ""):
        problem = "The new password and its confirmation differ. Type the same password twice."
    else:
        try:
            change_password(db, row, new)
        except AccountError as exc:
            problem = f"Not changed: {exc}."
    if problem:
        return render_template("password.html", problem=problem), 400
    _log_in(row)
    flash("Your password is changed. Every other login of your account has ended.", "success")
    return redirect(url_for("student.assignments"))


@bp.post("/users/<int:user_id>/sessions/end")
@instructor_required
def end_user_sessions(user_id: int) -> Any:
    """End every login session of a user (a lost laptop, a shared password), then show their grades page."""
    db = get_session()
    row = db.get(User, user_id)
    if row is None:
        abort(404)
    ended = end_all_sessions(db, row.id)
    db.commit()
    flash(f"Ended {ended} login session{'s' if ended != 1 else ''} of {row.email}.", "success")
    if row.id == int(current_user.id):
        return redirect(url_for("auth.login"))
    return redirect(url_for("grades.student_grades", user_id=row.id))


def _safe_next(target: str | None) -> str:
    """Return `target` if a browser following it stays on this site, else the home page.

    Browsers drop tabs and newlines anywhere in a URL, trim controls and spaces
    around it and read a backslash as a slash (`/\\t/evil.example` is
    `//evil.example` to them): the check runs on what the browser would read,
    and that is what is returned.
    """
    home = url_for("student.assignments")
    if not target:
        return home
    seen = target.replace("\t", "").replace("\n", "").replace("\r", "").strip(URL_CONTROLS).replace("\\", "/")
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc or not seen.startswith("/") or seen.startswith("//"):
        return home
    return seen
