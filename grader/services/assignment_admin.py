"""An instructor's settings of an assignment (publication, dates, late policy, limit, counting) and extensions.

The settings are kept as staff wrote them (`Assignment.policy`, the shape of
grader.core.policy.settings) and checked with the same `parse_policy` that
grading uses, in the course's time zone; `published`, `opens_at` and
`due_at` are mirrored on the row for queries, only by
grader.services.assignment_dates (the one source of truth for dates). Grades are computed from the
stored rubric scores and the policy of the moment (grader.services.grades),
so a saved deadline, policy or extension applies to every grade at once,
without touching a submission row.

Form fields carry the policy's dotted names (`due_at`, `late.penalty_percent`),
so a SpecError's `field` names the form field to show the problem next to;
a save reports every mistake at once (SettingsErrors) and writes only the
fields the instructor changed, so a setting the form does not show, or one
left untouched, stays exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from grader.core.errors import SpecError
from grader.core.policy import AssignmentPolicy, parse_extension, parse_policy, policy_problems
from grader.db import transaction
from grader.models import Assignment, Extension, Role, User, utcnow
from grader.services.assignment_dates import mirror_policy, policy_data, policy_in_force, store_policy, utc
from grader.services.course_grades import course_timezone as course_timezone  # the instructor pages' time zone
from grader.services.reference_builds import UNLESS_BUILT, ReferenceQueue, Request, request_build

LATE_FIELDS = ("penalty_percent", "per", "grace", "last_accepted")
POLICY_FIELDS = ("published", "opens_at", "due_at", "counts", "daily_limit", "pending_limit") + tuple(
    f"late.{f}" for f in LATE_FIELDS
)
ORIGINAL = "orig."  # the hidden inputs carrying each field's value as the form showed it
_NUMBERS = ("daily_limit", "pending_limit", "late.penalty_percent")
_FREE_WITHOUT_DEADLINE = ("published", "counts", "late.per")  # fields that may keep a value without a due date
UTC = dt.timezone.utc


class SettingsErrors(SpecError):
    """Every mistake of a settings form at once, by field; `field` and `problem` are the first one's."""

    def __init__(self, problems: dict[str, str]):
        field = next(iter(problems))
        super().__init__("settings", "" if field == "_form" else field, problems[field])
        self.problems = problems


def _number_or_text(text: str) -> int | float | str:
    """Read a form's number; leave anything else as text for the validator to name."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def form_from_policy(assignment: Assignment, tz: dt.tzinfo = UTC) -> dict[str, str]:
    """The settings form's fields showing what is in force (the policy, or what the columns of an old row say)."""
    data = policy_data(assignment, tz) or {}
    late = data.get("late") or {}
    form = {name: "" for name in POLICY_FIELDS}
    form.update({k: str(data[k]) for k in ("opens_at", "due_at", "daily_limit", "pending_limit") if k in data})
    form.update({f"late.{k}": str(late[k]) for k in LATE_FIELDS if late.get(k) is not None})
    form["counts"] = str(data.get("counts") or "best")
    form["late.per"] = form["late.per"] or "hour"
    form["published"] = "on" if assignment.published else ""
    return form


def form_values(form: Mapping[str, str], prefix: str = "") -> dict[str, str]:
    """The settings fields of a posted form, trimmed (a checkbox left unticked is absent: "")."""
    values = {name: (form.get(prefix + name) or "").strip() for name in POLICY_FIELDS}
    values["published"] = "on" if values["published"] in ("on", "true", "1", "yes") else ""
    return values


def read_policy(assignment: Assignment, tz: dt.tzinfo) -> AssignmentPolicy | None:
    """The assignment's policy in force (None: no deadline); see grader.services.assignment_dates."""
    return policy_in_force(assignment, tz)


def save_settings(sessions: sessionmaker[Session], assignment_id: int, form: Mapping[str, str], tz: dt.tzinfo) -> None:
    """Save the fields the instructor changed, keep every other setting as it is; SettingsErrors lists all mistakes.

    A field counts as changed when its posted value differs from the value the form showed (the hidden
    `orig.` inputs; without them, the value in force now): an untouched field never overwrites a setting,
    even one another instructor saved meanwhile.
    """
    with transaction(sessions) as session:
        row = session.get_one(Assignment, assignment_id)
        in_force = form_from_policy(row, tz)
        shown = form_values(form, ORIGINAL) if any(k.startswith(ORIGINAL) for k in form) else in_force
        posted = form_values(form)
        changed = {name for name in POLICY_FIELDS if posted[name] != shown[name]}
        values = {name: posted[name] if name in changed else in_force[name] for name in POLICY_FIELDS}
        data = _apply_changes(policy_data(row, tz), values, changed)
        problems = settings_problems(data, values, tz)
        if problems:
            raise SettingsErrors(problems)
        mirror_policy(row, data, tz, published=values["published"] == "on")


def _apply_changes(base: dict[str, Any] | None, values: dict[str, str], changed: set[str]) -> dict[str, Any] | None:
    """The stored policy with only the changed fields written over it (None: no due date, no deadline)."""
    if not values["due_at"]:
        return None
    data = dict(base or {"published": values["published"] == "on"})
    if "published" in changed:
        data["published"] = values["published"] == "on"
    for name in ("opens_at", "due_at", "counts", "daily_limit", "pending_limit"):
        if name in changed:
            _set(data, name, values[name], name in _NUMBERS)
    late = dict(data.get("late") or {})
    for name in LATE_FIELDS:
        if f"late.{name}" in changed:
            _set(late, name, values[f"late.{name}"], f"late.{name}" in _NUMBERS)
    if any(key in late for key in ("penalty_percent", "grace", "last_accepted")):
        late.setdefault("penalty_percent", 0)
        late.setdefault("per", values["late.per"] or "hour")
        data["late"] = late
    else:
        data.pop("late", None)
    return data


def _set(data: dict[str, Any], key: str, value: str, number: bool) -> None:
    """Write a field's new value into the policy; an emptied field is removed (its default applies)."""
    if value:
        data[key] = _number_or_text(value) if number else value
    else:
        data.pop(key, None)


def settings_problems(data: dict[str, Any] | None, values: dict[str, str], tz: dt.tzinfo) -> dict[str, str]:
    """Every mistake of the form, by field ("_form": the whole), in the form's order; {} when it can be saved."""
    if data is None:
        needs = "needs a due date: set due_at too, or clear this field"
        return {name: needs for name in POLICY_FIELDS if values[name] and name not in _FREE_WITHOUT_DEADLINE}
    found = policy_problems(data, "settings", tz)
    order = {name: index for index, name in enumerate(POLICY_FIELDS)}
    return {field or "_form": found[field] for field in sorted(found, key=lambda f: order.get(f, -1))}


def _mirror(row: Assignment, policy: dict[str, Any], parsed: AssignmentPolicy) -> None:
    """Store a policy already parsed (set_published's path) through the one writer of the columns."""
    store_policy(row, policy, parsed)


def set_published(
    sessions: sessionmaker[Session],
    assignment_id: int,
    published: bool,
    tz: dt.tzinfo,
    queue: ReferenceQueue | None = None,
) -> Request | None:
    """Publish or hide an assignment (in its policy too, so both say the same).

    Publishing also builds its references on `queue`, unless they are built or on their way, so
    its first grading does not build them; return what became of that request (None: none made).
    """
    with transaction(sessions) as session:
        row = session.get_one(Assignment, assignment_id)
        if row.policy is None:
            row.published = published
        else:
            policy = {**row.policy, "published": published}
            _mirror(row, policy, parse_policy(policy, f"settings of {row.slug}", tz))
    if not published or queue is None:
        return None
    return request_build(sessions, queue, assignment_id, unless=UNLESS_BUILT)


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
