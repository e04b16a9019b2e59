"""An assignment's dates from one source of truth: its policy, mirrored on the row by one writer.

`Assignment.policy` (the time settings as staff wrote them, read by
grader.core.policy.parse_policy) is the truth. The `published`, `opens_at`
and `due_at` columns are a copy for queries (sorting, "published only"),
written only through `mirror_policy`, so a page that reads a column and a page
that reads the policy cannot disagree. An assignment without a policy has no
deadline; its `published` column is then its only setting.

Every page that shows or enforces dates asks `policy_in_force`. Rows written
before this rule (the demo once set the columns without a policy) have dates
in their columns and no policy: `policy_data` derives the policy from those
columns, so what the settings form shows, what grading applies and what the
assignment list says are the same, and the next save writes it down.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from grader.core.policy import AssignmentPolicy, parse_policy
from grader.core.policy.timing import aware
from grader.models import Assignment

UTC = dt.timezone.utc


def form_moment(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Write a moment as staff type it: "2025-02-13T23:59" in the course's time zone (seconds only when set)."""
    local = aware(moment).astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def policy_data(assignment: Assignment, tz: dt.tzinfo) -> dict[str, Any] | None:
    """Return the assignment's policy as written (None: no deadline), derived from its columns on old rows."""
    if assignment.policy is not None:
        return dict(assignment.policy)
    if assignment.due_at is None:
        return None
    # An old row: dates in the columns without a policy. Its columns are what students were shown, so they
    # are the policy in force (no late work, as for any policy without a `late` section).
    derived: dict[str, Any] = {"published": bool(assignment.published), "due_at": form_moment(assignment.due_at, tz)}
    if assignment.opens_at is not None and aware(assignment.opens_at) < aware(assignment.due_at):
        derived["opens_at"] = form_moment(assignment.opens_at, tz)
    return derived


def policy_in_force(assignment: Assignment, tz: dt.tzinfo) -> AssignmentPolicy | None:
    """Return the policy in force (None: no deadline); raise SpecError when the stored one cannot be read."""
    data = policy_data(assignment, tz)
    if data is None:
        return None
    return parse_policy(data, f"the settings of {assignment.slug}", tz)


def mirror_policy(assignment: Assignment, data: dict[str, Any] | None, tz: dt.tzinfo, published: bool = True) -> None:
    """Store a policy (None: no deadline, `published` alone) and its copy in the columns; SpecError if invalid.

    With `store_policy`, the only writer of `opens_at` and `due_at` (and of `published` when there is a policy).
    """
    if data is None:
        assignment.policy, assignment.opens_at, assignment.due_at = None, None, None
        assignment.published = published
        return
    store_policy(assignment, data, parse_policy(data, f"the settings of {assignment.slug}", tz))


def store_policy(assignment: Assignment, data: dict[str, Any], parsed: AssignmentPolicy) -> None:
    """Write a policy and its parsed form's dates to the row: the one place the mirrored columns are set."""
    assignment.policy = data
    assignment.published = parsed.published
    assignment.opens_at, assignment.due_at = utc(parsed.opens_at), utc(parsed.due_at)


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A moment in UTC, as the database keeps it (SQLite drops the offset rather than converting)."""
    return moment.astimezone(UTC) if moment is not None else None
