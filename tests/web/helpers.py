"""Submission rows for the web tests, written as a worker would leave them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, State, Submission

SCORED_RESULT: dict[str, Any] = {
    "status": "scored",
    "outcome": "ok",
    "score": 8.5,
    "max_score": 10.0,
    "metrics": {"accuracy": 0.9712, "macro_f1": 0.9701, "parameters": 12345},
    "criteria": [{"id": "acc", "title": "Accuracy", "points": 8.5, "max_points": 10.0, "feedback": "Good accuracy."}],
    "student_message": "Your model trained and was scored.",
    "staff_detail": "SECRET /srv/grader/runs/abc hidden labels",
    "log": "epoch 1/5 loss 0.4\nepoch 5/5 loss 0.1\n",
    "resources": {"wall_s": 3.2, "cpu_s": 5.1, "peak_memory_bytes": 200 * 1024**2},
    "environment": {"framework": "keras"},
}


def add_submission(app: Flask, user_id: int, state: State = State.QUEUED, **fields: Any) -> int:
    """Insert a submission of digits-mlp for `user_id` and return its id.

    A queued or running row is in the broker unless `dispatched_at=None` is
    passed (then it waits behind the student's earlier one: grader.services.dispatch).
    """
    if state in (State.QUEUED, State.RUNNING):
        fields.setdefault("dispatched_at", dt.datetime.now(dt.timezone.utc))
    with transaction(app.extensions["grader.sessions"]) as session:
        assignment = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        sub = Submission(
            user_id=user_id,
            assignment_id=assignment.id,
            filename="model.py",
            blob_sha256="0" * 64,
            size_bytes=10,
            state=state,
            **fields,
        )
        session.add(sub)
        session.flush()
        return sub.id


def add_scored(app: Flask, user_id: int, **fields: Any) -> int:
    """Insert a scored submission carrying SCORED_RESULT (fields: more columns, e.g. feedback="status")."""
    now = dt.datetime.now(dt.timezone.utc)
    return add_submission(
        app,
        user_id,
        State.SCORED,
        **fields,
        result=SCORED_RESULT,
        outcome="ok",
        score=8.5,
        max_score=10.0,
        started_at=now - dt.timedelta(seconds=5),
        finished_at=now,
        error_detail="worker traceback /srv/secret",
    )


def submission_count(app: Flask) -> int:
    """Return how many submission rows exist."""
    with transaction(app.extensions["grader.sessions"]) as session:
        return len(session.scalars(select(Submission.id)).all())
