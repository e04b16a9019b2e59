"""Logins: sessions for the site (Flask-Login), CSRF on every form, roles for staff pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.models import Role, User
from grader.services.accounts import verify_password
from grader.web.database import get_session

bp = Blueprint("auth", __name__, url_prefix="/auth")
csrf = CSRFProtect()


class SiteUser(UserMixin):
    """The logged-in user as Flask-Login sees it; `row` is the database row."""

    def __init__(self, row: User):
        self.row = row
        self.id = str(row.id)

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


def _load_user(user_id: str) -> SiteUser | None:
    """Load the session's user from the database."""
    row = get_session().get(User, int(user_id)) if user_id.isdigit() else None
    return SiteUser(row) if row else None


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


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; log in on a correct email and password."""
    if request.method == "POST":
        user = verify_password(get_session(), request.form.get("email", ""), request.form.get("password", ""))
        if user is not None:
            login_user(SiteUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.")
        return render_template("login.html", email=request.form.get("email", "")), 401
    return render_template("login.html", email="")


@bp.post("/logout")
def logout() -> Any:
    """Log out and go back to the login page."""
    logout_user()
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this site, else the home page."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("student.assignments")
