"""Liveness (`/up`) and readiness (`/up/ready`) of the web app.

Readiness checks the database, the broker (it answers within
broker.DEFAULT_TIMEOUT) and the workers (at least one seen within
settings.stale_after_seconds, the window after which a silent worker counts as
dead); more checks are added with `add_readiness_check(app, name, check)`, where
`check()` returns True, False or None (not known), so an unknown never reads as
healthy. Every check is bounded: a probe never hangs the web process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from grader.models import utcnow
from grader.services.broker import inspect_broker
from grader.services.worker_registry import live_worker_count

bp = Blueprint("health", __name__)
Check = Callable[[], bool | None]


def init_app(app: Flask) -> None:
    """Register the health views and the database, broker and workers checks."""
    app.extensions.setdefault("grader.readiness", {})
    add_readiness_check(app, "database", _database_ok)
    add_readiness_check(app, "broker", _broker_ok)
    add_readiness_check(app, "workers", _workers_ok)
    app.register_blueprint(bp)


def add_readiness_check(app: Flask, name: str, check: Check) -> None:
    """Add (or replace) a named readiness check."""
    app.extensions.setdefault("grader.readiness", {})[name] = check


def _database_ok() -> bool:
    """Return whether the database answers a trivial query."""
    with current_app.extensions["grader.engine"].connect() as connection:
        connection.execute(text("SELECT 1"))
    return True


def _broker_ok() -> bool:
    """Return whether the broker answers (queues counted) within its timeout."""
    report = inspect_broker(current_app.config["GRADER_SETTINGS"].broker_url)
    if not report.reachable:
        current_app.logger.warning("readiness: broker: %s", report.error)
    return report.reachable


def _workers_ok() -> bool:
    """Return whether at least one worker has been seen within the staleness window."""
    settings = current_app.config["GRADER_SETTINGS"]
    with current_app.extensions["grader.sessions"]() as session:
        live = live_worker_count(session, utcnow(), dt.timedelta(seconds=settings.stale_after_seconds))
    if not live:
        current_app.logger.warning("readiness: no worker seen in the last %g s", settings.stale_after_seconds)
    return live > 0


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
    ready_now = all(state == "ok" for state in checks.values())
    return jsonify(status="ready" if ready_now else "not ready", checks=checks), 200 if ready_now else 503
