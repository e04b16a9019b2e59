"""Liveness (`/up`) and readiness (`/up/ready`) of the web app.

Readiness checks the database here; other parts (broker, live workers) add
checks with `add_readiness_check(app, name, check)`, where `check()` returns
True, False or None (not known), so an unknown never reads as healthy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)
Check = Callable[[], bool | None]


def init_app(app: Flask) -> None:
    """Register the health views and the database check."""
    app.extensions.setdefault("grader.readiness", {})
    add_readiness_check(app, "database", _database_ok)
    app.register_blueprint(bp)


def add_readiness_check(app: Flask, name: str, check: Check) -> None:
    """Add (or replace) a named readiness check."""
    app.extensions.setdefault("grader.readiness", {})[name] = check


def _database_ok() -> bool:
    """Return whether the database answers a trivial query."""
    with current_app.extensions["grader.engine"].connect() as connection:
        connection.execute(text("SELECT 1"))
    return True


def _run(check: Check) -> str:
    """Run one check: 'ok', 'failing' or 'unknown'."""
    try:
        outcome = check()
    except Exception:  # a failing dependency is a report, not a crash
        current_app.logger.exception("readiness check failed")
        return "failing"
    return {True: "ok", False: "failing"}.get(outcome, "unknown")


@bp.get("/up")
def up() -> Any:
    """Say the process is alive."""
    return jsonify(status="ok")


@bp.get("/up/ready")
def ready() -> Any:
    """Run the readiness checks; 503 unless every one is ok."""
    checks = {name: _run(check) for name, check in current_app.extensions["grader.readiness"].items()}
    for name in ("broker", "workers"):
        checks.setdefault(name, "unknown")
    ready_now = all(state == "ok" for state in checks.values())
    return jsonify(status="ready" if ready_now else "not ready", checks=checks), 200 if ready_now else 503
