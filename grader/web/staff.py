"""Staff pages (TAs and instructors): the workers and the queues. Submissions are reviewed in grader.web.review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template

from grader.models import utcnow
from grader.services.broker import BrokerReport, inspect_broker
from grader.services.worker_registry import WorkerView, list_workers
from grader.web import services
from grader.web.auth import staff_required
from grader.web.database import get_session

bp = Blueprint("staff", __name__, url_prefix="/staff")


def init_app(app: Flask) -> None:
    """Register the staff pages."""
    app.register_blueprint(bp)


def workers_now() -> tuple[list[WorkerView], BrokerReport, dt.datetime]:
    """The registry's workers with their runs, the broker's queue lengths, and when this was read."""
    settings = services.settings()
    now = utcnow()
    workers = list_workers(get_session(), now, dt.timedelta(seconds=settings.stale_after_seconds))
    return workers, inspect_broker(settings.broker_url), now


def workers_report() -> dict[str, Any]:
    """The workers page as JSON (also what an API listing of workers answers)."""
    workers, broker, now = workers_now()
    return {
        "checked_at": now.isoformat(),
        "stale_after_s": services.settings().stale_after_seconds,
        "workers": [w.to_json() for w in workers],
        "queues": broker.queues,
        "broker_error": broker.error,
    }


@bp.get("/workers")
@staff_required
def workers() -> Any:
    """Show every worker (GPUs, slots, live or not, what it grades now) and the queue lengths."""
    rows, broker, now = workers_now()
    return render_template(
        "staff_workers.html", workers=rows, broker=broker, now=now, stale_after=services.settings().stale_after_seconds
    )


@bp.get("/workers.json")
@staff_required
def workers_json() -> Any:
    """The workers page's data as JSON."""
    return jsonify(workers_report())
