"""The grading log of one submission as staff read it: what ran, how it ended, with what, and who changed what.

Built from the stored row (its result and evaluation JSON) for both the
review page and the staff API, so the two always agree. Everything here is
staff-only: it carries the staff detail, the environment and worker names.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.orm import Session

from grader.assignments import load_assignment
from grader.config import Settings
from grader.core.errors import GraderError
from grader.core.outcomes import Outcome
from grader.models import Submission, User
from grader.services.overrides import audit_trail, chain_score, display_name, newest_graded
from grader.services.reruns import chain_rows

_TERMINATION = re.compile(r"termination=(\w+)")
_TRUNCATED = re.compile(r"\[grader\] output truncated: (\d+) bytes dropped")
_NO_TASKS = ("can't start new thread", "Resource temporarily unavailable", "BlockingIOError: [Errno 11]")


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite drops the zone: stored moments are UTC)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).isoformat()


def _seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    start, end = (m if m.tzinfo else m.replace(tzinfo=dt.timezone.utc) for m in (start, end))
    return round((end - start).total_seconds(), 1)


def configured_limits(slug: str, settings: Settings) -> dict[str, Any] | None:
    """The assignment's run limits as its folder sets them now; None when the folder cannot be loaded."""
    try:
        limits = load_assignment(slug, settings).spec.limits
    except (GraderError, OSError):
        return None
    return {
        "wall_seconds": limits.wall_seconds,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "max_processes": limits.max_processes,
        "output_bytes": limits.output_bytes,
    }


def limits_hit(
    staff_detail: str, log_text: str, limits: dict[str, Any] | None, resources: dict[str, Any] | None = None
) -> list[str]:
    """Name each limit the run ran into, from the runner's termination, its measurements and the log's notes."""
    limits = limits or {}
    hit = []
    termination = _TERMINATION.search(staff_detail or "")
    kind = termination.group(1) if termination else ""
    if kind == "wall_limit":
        hit.append(f"wall-clock time (limit {limits['wall_seconds']:g} s)" if limits else "wall-clock time")
    elif kind == "cpu_limit":
        hit.append(f"CPU time (limit {limits['cpu_seconds']:g} s)" if limits else "CPU time")
    elif kind == "memory_limit":
        hit.append(f"memory (limit {limits['memory_bytes'] // 1024**2} MiB)" if limits else "memory")
    truncated = _TRUNCATED.search(log_text or "")
    if truncated:
        cap = f", limit {limits['output_bytes'] // 1024} KiB" if limits else ""
        hit.append(f"output ({truncated.group(1)} bytes dropped{cap})")
    cap = f" (limit {limits['max_processes']})" if limits else ""
    refused = (resources or {}).get("tasks_refused")
    if refused:
        hit.append(f"processes and threads{cap}: {refused} refused")
    elif refused is None and any(sign in (log_text or "") for sign in _NO_TASKS):  # runs recorded before the count
        hit.append(f"processes and threads{cap}: the log shows a refused thread or process")
    return hit


def _run(session: Session, sub: Submission, in_force_id: int) -> dict[str, Any]:
    """One row of a re-run chain, for the chain table."""
    return {
        "id": sub.id,
        "state": sub.state.value,
        "outcome": sub.outcome,
        "score": sub.score,
        "max_score": sub.max_score,
        "queued_at": iso(sub.queued_at),
        "finished_at": iso(sub.finished_at),
        "requested_by": requester(session, sub),
        "in_force": sub.id == in_force_id,
    }


def requester(session: Session, sub: Submission) -> str | None:
    """Who asked for this run: None for the student's own upload."""
    if sub.requested_by_id is None:
        return None
    user = session.get(User, sub.requested_by_id)
    return display_name(user) if user is not None else f"user #{sub.requested_by_id}"


def grading_log(session: Session, sub: Submission, settings: Settings) -> dict[str, Any]:
    """Everything staff need to judge one grading, as JSON-ready values."""
    result = sub.result or {}
    evaluation = sub.evaluation or {}
    log_text = result.get("log", evaluation.get("log", "")) or ""
    staff_detail = result.get("staff_detail", evaluation.get("staff_detail", "")) or ""
    environment = dict(result.get("environment", evaluation.get("environment", {})) or {})
    resources = dict(result.get("resources", evaluation.get("resources", {})) or {})
    limits = configured_limits(sub.assignment.slug, settings)
    chain = chain_rows(session, sub.rerun_of_id or sub.id)
    in_force_id = chain[-1].id
    counts = chain_score(session, sub)  # the upload's: an override stays in force across re-runs
    outcome = sub.outcome or result.get("outcome")
    return {
        "id": sub.id,
        "student": {"email": sub.user.email, "name": sub.user.name},
        "assignment": sub.assignment.slug,
        "assignment_title": sub.assignment.title,
        "filename": sub.filename,
        "size_bytes": sub.size_bytes,
        "blob_sha256": sub.blob_sha256,
        "state": sub.state.value,
        "status": result.get("status", sub.state.value),
        "outcome": outcome,
        "outcome_text": Outcome(outcome).describe() if outcome in {o.value for o in Outcome} else "",
        "score": sub.score,
        "max_score": sub.max_score if sub.max_score is not None else result.get("max_score"),
        "score_in_force": counts.points,
        "override": counts.override_json(),
        "criteria": result.get("criteria", []),
        "checks": result.get("checks", []),
        "metrics": result.get("metrics", evaluation.get("metrics", {})) or {},
        "student_message": result.get("student_message", evaluation.get("student_message", "")),
        "staff_detail": staff_detail,
        "error_detail": sub.error_detail or "",
        "limits_hit": limits_hit(staff_detail, log_text, limits, resources),
        "limits": limits,
        "resources": resources,
        "gpu": environment.pop("gpu", None),
        "environment": environment,
        "worker": sub.worker,
        "attempts": sub.attempts,
        "times": {
            "created_at": iso(sub.created_at),
            "queued_at": iso(sub.queued_at),
            "started_at": iso(sub.started_at),
            "heartbeat_at": iso(sub.heartbeat_at),
            "finished_at": iso(sub.finished_at),
            "waited_s": _seconds_between(sub.queued_at, sub.started_at),
            "ran_s": _seconds_between(sub.started_at, sub.finished_at),
        },
        "progress": sub.progress,
        "rerun_of": sub.rerun_of_id,
        "requested_by": requester(session, sub),
        "in_force": sub.id == in_force_id,
        "in_force_id": in_force_id,
        # the newest graded run takes the upload's override, even while a newer run is queued or running
        "overridable": newest_graded(chain) == sub.id,
        "pending_run": None if chain[-1].state.is_final or in_force_id == sub.id else in_force_id,
        "chain": [_run(session, row, in_force_id) for row in chain],
        "audit": [
            {
                "at": iso(row.at),
                "by": display_name(row.by),
                "by_email": row.by.email,
                "points_before": row.points_before,
                "points_after": row.points_after,
                "reason": row.reason,
                "run": row.submission_id,  # the run of the upload it was made on
            }
            for row in audit_trail(session, sub.id)
        ],
        "log": log_text,
    }
