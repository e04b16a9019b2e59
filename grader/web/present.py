"""What students see of a submission: the `grader grade --json` fields, never staff details.

Past the assignment's daily limit a student sees only whether a submission ran
(grader.web.feedback); an override in force shows with the TA's name and
comment. Staff viewers always see everything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from grader.core.policy.daily import FeedbackLevel
from grader.models import Assignment, State, Submission, User, utcnow
from grader.services.dispatch import standing
from grader.services.overrides import chain_score, student_notice
from grader.web import services
from grader.web.feedback import FULL, Feedback, course_timezone, student_feedback
from grader.web.live_status import queued_text, running_text

STUDENT_FIELDS = (
    "status",
    "outcome",
    "score",
    "max_score",
    "metrics",
    "criteria",
    "checks",
    "student_message",
    "log",
    "resources",
    "curve",
)


def queue_position(session: Session, submission: Submission) -> int | None:
    """Return the submission's real place in the broker's queue (1: next), or None while it waits for its turn.

    See grader.services.dispatch: only one upload per student is in the
    broker at a time; the others wait in the database, not in the queue.
    """
    return standing(session, submission).position


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
    body.update(status=sub.state.value, metrics={}, criteria=[], checks=[], log="", resources={}, curve=[])
    if sub.state is State.QUEUED:
        where = standing(session, sub)
        body["queue_position"] = where.position
        body["waiting_for"] = list(where.waiting_for)
        body["status_text"], body["student_message"] = queued_text(where)
    else:
        body["elapsed_s"] = elapsed_seconds(sub.started_at)
        body["progress"] = dict(sub.progress or {})
        body["status_text"], body["student_message"] = running_text(sub.progress, body["elapsed_s"])
    return body


def feedback_for(session: Session, sub: Submission, assignment: Assignment, viewer: User | None) -> Feedback:
    """How much of the submission the viewer sees: staff everything, its student up to the daily limit."""
    if viewer is not None and viewer.role.is_staff:
        return FULL
    tz = course_timezone(services.settings())
    return student_feedback(session, sub.user_id, assignment, tz).get(sub.id, FULL)


def _status_only(body: dict[str, Any]) -> None:
    """Keep whether it ran (state, outcome, the student message); drop the score, criteria, metrics, log."""
    body.update(score=None, max_score=None, metrics={}, criteria=[], checks=[], log="", resources={}, curve=[])


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
        body.update(metrics={}, criteria=[], checks=[], log="", resources={}, curve=[])
    else:
        body = _pending(session, sub)
    feedback = feedback or feedback_for(session, sub, assignment, viewer)
    if feedback.level is FeedbackLevel.STATUS and sub.state.is_final:
        _status_only(body)
    counts = chain_score(session, sub)  # the upload's score in force: an override stays in force across re-runs
    if feedback.level is not FeedbackLevel.FULL:  # the override's points too
        counts = dataclasses.replace(counts, points=None, override=None)
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
        "superseded_by": None if counts.run == sub.id else counts.run,
        "override": counts.override_json(),
        "notice": student_notice(counts, sub),  # the one line about which score counts
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
