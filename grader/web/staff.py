"""Staff pages (TAs and instructors): every submission, with the staff detail."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from sqlalchemy import select

from grader.models import Submission
from grader.web.auth import staff_required
from grader.web.database import get_session

bp = Blueprint("staff", __name__, url_prefix="/staff")


def init_app(app: Flask) -> None:
    """Register the staff pages."""
    app.register_blueprint(bp)


@bp.get("/submissions")
@staff_required
def submissions() -> Any:
    """List the latest submissions of every student."""
    rows = get_session().scalars(select(Submission).order_by(Submission.id.desc()).limit(200))
    return render_template("staff_submissions.html", submissions=list(rows))
