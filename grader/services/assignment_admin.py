"""An instructor's settings of an assignment (publication, dates, late policy, limit, counting) and extensions.

The settings are kept as staff wrote them (`Assignment.policy`, the shape of
grader.core.policy.settings) and checked with the same `parse_policy` that
grading uses, in the course's time zone; `published`, `opens_at` and
`due_at` are mirrored on the row for queries. Grades are computed from the
stored rubric scores and the policy of the moment (grader.services.grades),
so a saved deadline, policy or extension applies to every grade at once,
without touching a submission row.

Form fields carry the policy's dotted names (`due_at`, `late.penalty_percent`),
so a SpecError's `field` names the form field to show the problem next to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from grader.core.errors import SpecError
from grader.core.policy import AssignmentPolicy, parse_extension, parse_policy
from grader.db import transaction
from grader.models import Assignment, Extension, Role, User, utcnow
from grader.services.course_grades import course_timezone as course_timezone  # the instructor pages' time zone

LATE_FIELDS = ("penalty_percent", "per", "grace", "last_accepted")
POLICY_FIELDS = ("published", "opens_at", "due_at", "counts", "daily_limit") + tuple(f"late.{f}" for f in LATE_FIELDS)


def _number_or_text(text: str) -> int | float | str:
    """Read a form's number; leave anything else as text for the validator to name."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def policy_from_form(form: Mapping[str, str]) -> dict[str, Any] | None:
    """Build the policy dict from the settings form's fields; None when no due date is set (no deadline)."""
    values = {name: (form.get(name) or "").strip() for name in POLICY_FIELDS}
    published = form.get("published") in ("on", "true", "1", "yes")
    if not values["due_at"]:
        for name in POLICY_FIELDS[1:]:
            if values[name] and name not in ("counts", "late.per"):
                raise SpecError("settings", name, "needs a due date: set due_at too, or clear this field")
        return None
    policy: dict[str, Any] = {"published": published, "due_at": values["due_at"]}
    if values["opens_at"]:
        policy["opens_at"] = values["opens_at"]
    policy["counts"] = values["counts"] or "best"
    if values["daily_limit"]:
        policy["daily_limit"] = _number_or_text(values["daily_limit"])
    late = {f: values[f"late.{f}"] for f in LATE_FIELDS if values[f"late.{f}"]}
    if "penalty_percent" in late or "last_accepted" in late or "grace" in late:
        late.setdefault("penalty_percent", "0")
        late.setdefault("per", "hour")
        late["penalty_percent"] = _number_or_text(late["penalty_percent"])
        policy["late"] = late
    return policy


def form_from_policy(assignment: Assignment) -> dict[str, str]:
    """The settings form's fields for an assignment as saved (the inverse of policy_from_form)."""
    policy = assignment.policy or {}
    late = policy.get("late") or {}
    form = {name: "" for name in POLICY_FIELDS}
    form.update({k: str(policy[k]) for k in ("opens_at", "due_at", "counts", "daily_limit") if k in policy})
    form.update({f"late.{k}": str(late[k]) for k in LATE_FIELDS if k in late})
    form["published"] = "on" if assignment.published else ""
    return form


def read_policy(assignment: Assignment, tz: dt.tzinfo) -> AssignmentPolicy | None:
    """The assignment's saved policy (None: no deadline)."""
    if assignment.policy is None:
        return None
    return parse_policy(assignment.policy, f"settings of {assignment.slug}", tz)


def save_settings(sessions: sessionmaker[Session], assignment_id: int, form: Mapping[str, str], tz: dt.tzinfo) -> None:
    """Validate and save an assignment's settings, keeping the mirrored columns in step; SpecError names the field."""
    policy = policy_from_form(form)
    with transaction(sessions) as session:
        row = session.get_one(Assignment, assignment_id)
        if policy is None:
            row.policy, row.opens_at, row.due_at = None, None, None
            row.published = form.get("published") in ("on", "true", "1", "yes")
            return
        parsed = parse_policy(policy, "settings", tz)
        _mirror(row, policy, parsed)


def _mirror(row: Assignment, policy: dict[str, Any], parsed: AssignmentPolicy) -> None:
    row.policy = policy
    row.published, row.opens_at, row.due_at = parsed.published, utc(parsed.opens_at), utc(parsed.due_at)


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A moment in UTC, as the database keeps it (SQLite drops the offset rather than converting)."""
    return moment.astimezone(dt.timezone.utc) if moment is not None else None


def set_published(sessions: sessionmaker[Session], assignment_id: int, published: bool, tz: dt.tzinfo) -> None:
    """Publish or hide an assignment (in its policy too, so both say the same)."""
    with transaction(sessions) as session:
        row = session.get_one(Assignment, assignment_id)
        if row.policy is None:
            row.published = published
            return
        policy = {**row.policy, "published": published}
        _mirror(row, policy, parse_policy(policy, f"settings of {row.slug}", tz))


def _student(session: Session, email: str) -> User:
    email = email.strip().lower()
    if not email:
        raise SpecError("extension", "email", "missing; write the student's email")
    user = session.scalars(select(User).where(func.lower(User.email) == email)).first()
    if user is None:
        raise SpecError("extension", "email", f"no account with the email {email!r}")
    if user.role is not Role.STUDENT:
        raise SpecError("extension", "email", f"{email} is a {user.role.value}'s account, not a student's")
    return user


def grant_extension(
    sessions: sessionmaker[Session],
    assignment_id: int,
    form: Mapping[str, str],
    granted_by_id: int,
    tz: dt.tzinfo,
) -> int:
    """Grant (or change) one student's extension; return its id. SpecError names the form field."""
    with transaction(sessions) as session:
        assignment = session.get_one(Assignment, assignment_id)
        user = _student(session, form.get("email", ""))
        policy = read_policy(assignment, tz)
        if policy is None:
            raise SpecError("extension", "due_at", "this assignment has no due date; set one in its settings first")
        data = {k: (form.get(k) or "").strip() for k in ("due_at", "last_accepted", "reason")}
        data = {k: v for k, v in data.items() if v or k != "last_accepted"}
        if not data.get("reason"):
            raise SpecError("extension", "reason", "missing; say why (the student reads it with their grade)")
        extension = parse_extension(data, "extension", policy, tz)
        row = session.scalars(
            select(Extension).where(Extension.assignment_id == assignment_id, Extension.user_id == user.id)
        ).first()
        if row is None:
            row = Extension(assignment_id=assignment_id, user_id=user.id)
            session.add(row)
        row.due_at, row.last_accepted_at = utc(extension.due_at), utc(extension.last_accepted)
        row.reason = extension.reason
        row.granted_by_id, row.granted_at = granted_by_id, utcnow()
        session.flush()
        return row.id


def revoke_extension(sessions: sessionmaker[Session], assignment_id: int, extension_id: int) -> bool:
    """Remove an extension of this assignment; return whether there was one."""
    with transaction(sessions) as session:
        row = session.get(Extension, extension_id)
        if row is None or row.assignment_id != assignment_id:
            return False
        session.delete(row)
        return True


def list_extensions(session: Session, assignment_id: int) -> list[Extension]:
    """The assignment's extensions, by student email."""
    query = select(Extension).join(User, User.id == Extension.user_id).where(Extension.assignment_id == assignment_id)
    return list(session.scalars(query.order_by(User.email)))
