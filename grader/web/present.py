"""What students see of a submission: the `grader grade --json` fields, never staff details.

Past the assignment's daily limit a student sees only whether a submission ran
(grader.web.feedback); an override in force shows with the TA's name and
comment. Staff viewers always see everything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.core.policy.daily import FeedbackLevel
from grader.models import Assignment, State, Submission, User, utcnow
from grader.services.overrides import override_in_force, view
from grader.services.reruns import row_in_force
from grader.web import services
from grader.web.feedback import FULL, Feedback, course_timezone, student_feedback

STUDENT_FIELDS = (
    "status",
    "outcome",
    "score",
    "max_score",
    "metrics",
    "criteria",
    "student_message",
    "log",
    "resources",
    "curve",
)


def queue_position(session: Session, submission: Submission) -> int:
    """Return 1 + the number of queued submissions ahead of this one."""
    ahead = select(func.count()).where(Submission.state == State.QUEUED, Submission.id < submission.id)
    return 1 + (session.scalar(ahead) or 0)


def _iso(moment: dt.datetime | None) -> str | None:
    """Return an ISO 8601 UTC timestamp (SQLite drops the zone, so assume UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat()


def elapsed_seconds(started_at: dt.datetime | None) -> float | None:
    """Return the seconds since `started_at`, if it is set."""
    if started_at is None:
        return None
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=dt.timezone.utc)
    return round((utcnow() - started_at).total_seconds(), 1)


def _pending(session: Session, sub: Submission) -> dict[str, Any]:
    """The result fields of a submission not graded yet, with where it is."""
    body: dict[str, Any] = {f: None for f in STUDENT_FIELDS}
    body.update(status=sub.state.value, metrics={}, criteria=[], log="", resources={}, curve=[])
    if sub.state is State.QUEUED:
        body["queue_position"] = queue_position(session, sub)
        body["student_message"] = f"Waiting in the queue (position {body['queue_position']})."
    else:
        body["elapsed_s"] = elapsed_seconds(sub.started_at)
        body["progress"] = dict(sub.progress or {})
        body["student_message"] = "Running: training and evaluating your model."
    return body


def feedback_for(session: Session, sub: Submission, assignment: Assignment, viewer: User | None) -> Feedback:
    """How much of the submission the viewer sees: staff everything, its student up to the daily limit."""
    if viewer is not None and viewer.role.is_staff:
        return FULL
    tz = course_timezone(services.settings())
    return student_feedback(session, sub.user_id, assignment, tz).get(sub.id, FULL)


def _status_only(body: dict[str, Any]) -> None:
    """Keep whether it ran (state, outcome, the student message); drop the score, criteria, metrics, log."""
    body.update(score=None, max_score=None, metrics={}, criteria=[], log="", resources={}, curve=[])


def submission_json(
    session: Session,
    sub: Submission,
    assignment: Assignment,
    *,
    viewer: User | None = None,
    feedback: Feedback | None = None,
) -> dict[str, Any]:
    """Return a submission as `viewer` may see it (None: as its student sees it).

    `feedback` may be given when the caller computed it for many rows at once.
    """
    if sub.state.is_final and sub.result:
        body = {f: sub.result.get(f) for f in STUDENT_FIELDS}
        body["status"] = sub.result.get("status", sub.state.value)
    elif sub.state.is_final:
        body = {f: None for f in STUDENT_FIELDS}
        body.update(status=sub.state.value, outcome=sub.outcome, score=sub.score, max_score=sub.max_score)
        body.update(metrics={}, criteria=[], log="", resources={}, curve=[])
    else:
        body = _pending(session, sub)
    feedback = feedback or feedback_for(session, sub, assignment, viewer)
    if feedback.level is FeedbackLevel.STATUS and sub.state.is_final:
        _status_only(body)
    shown = view(override_in_force(session, sub.id))
    return {
        "id": sub.id,
        "assignment": assignment.slug,
        "task": assignment.task,
        "filename": sub.filename,
        "state": sub.state.value,
        **body,
        "created_at": _iso(sub.created_at),
        "started_at": _iso(sub.started_at),
        "finished_at": _iso(sub.finished_at),
        "rerun_of": sub.rerun_of_id,
        "superseded_by": None if (head := row_in_force(session, sub)) == sub.id else head,
        "override": shown.to_json() if shown else None,
        "feedback": feedback.to_json(),
    }


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    """Return an assignment as anyone enrolled may see it."""
    return {
        "slug": assignment.slug,
        "title": assignment.title,
        "topic": assignment.topic,
        "opens_at": _iso(assignment.opens_at),
        "due_at": _iso(assignment.due_at),
    }
