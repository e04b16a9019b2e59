"""An assignment's time settings as staff write them, and per-student extensions.

    published: true                    # false: hidden from students
    opens_at: 2025-01-20T09:00:00      # optional; no offset: the course's time zone
    due_at: 2025-02-13T23:59:00        # required
    counts: best                       # best | last (see grader.core.policy.selection); default best
    daily_limit: 5                     # fully graded submissions per day; absent: no limit
    pending_limit: 3                   # a student's submissions queued or running at once; default 3
    late:                              # absent: nothing is accepted after the due date
      penalty_percent: 10              # per started unit, 0 to 100
      per: hour                        # hour | day
      grace: 15m                       # optional; counts as on time
      last_accepted: 2d                # optional: a moment, or a time after the due date; absent: no cutoff

An extension (one student):

    due_at: 2025-02-20T23:59:00
    last_accepted: 2025-02-22T23:59:00 # optional
    reason: medical certificate
    granted_by: prof@example.org       # optional; the web fills it in
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from grader.core.errors import SpecError
from grader.core.policy.late import UNITS, Deadlines, Extension, LatePolicy, effective_deadlines
from grader.core.policy.selection import COUNTS
from grader.core.policy.timing import format_moment, parse_duration, parse_moment
from grader.core.validate import Section, Where

_KEYS = ("published", "opens_at", "due_at", "counts", "daily_limit", "pending_limit", "late")
DEFAULT_PENDING_LIMIT = 3  # without a policy, or one that does not say
_LATE_KEYS = ("penalty_percent", "per", "grace", "last_accepted")
_EXTENSION_KEYS = ("due_at", "last_accepted", "reason", "granted_by")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class AssignmentPolicy:
    """When an assignment takes submissions, how late work is treated and which submission counts."""

    due_at: dt.datetime
    opens_at: dt.datetime | None = None
    published: bool = True
    late: LatePolicy = LatePolicy()
    counts: str = "best"
    daily_limit: int | None = None
    pending_limit: int = DEFAULT_PENDING_LIMIT

    def deadlines(self, extension: Extension | None = None) -> Deadlines:
        """Return the deadlines of a student with this extension (or none)."""
        return effective_deadlines(self.due_at, self.late, extension, self.opens_at)


def parse_policy(data: object, source: str, tz: dt.tzinfo) -> AssignmentPolicy:
    """Build an AssignmentPolicy from parsed YAML or a dict; raise SpecError naming the (first) bad field."""
    policy, problems = _read_policy(data, source, tz)
    if problems:
        raise problems[0]
    assert policy is not None
    return policy


def policy_problems(data: object, source: str, tz: dt.tzinfo) -> dict[str, str]:
    """Return every problem of a policy by dotted field ("" for the whole), {} when it is valid.

    A form shows them all at once, each next to its field, rather than one per save.
    """
    problems: dict[str, str] = {}
    for error in _read_policy(data, source, tz)[1]:
        problems.setdefault(error.field, error.problem)
    return problems


class _Problems:
    """Run each field's reader on its own, keeping every SpecError, so one mistake hides no other."""

    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def read(self, reader: Callable[[], T], fallback: T) -> T:
        try:
            return reader()
        except SpecError as exc:
            self.errors.append(exc)
            return fallback


def _read_policy(data: object, source: str, tz: dt.tzinfo) -> tuple[AssignmentPolicy | None, list[SpecError]]:
    """Read every field of a policy; return the policy (None when anything is wrong) and all the problems."""
    found = _Problems()
    root = found.read(lambda: Section(data, Where(source), _KEYS), None)
    if root is None:
        return None, found.errors
    due_at = found.read(lambda: parse_moment(root.get("due_at"), root.at("due_at"), tz), None)
    opens_at = found.read(lambda: _parse_opens(root, due_at, tz), None)
    published = found.read(lambda: _parse_published(root), True)
    daily_limit = found.read(lambda: _optional_count(root, "daily_limit"), None)
    pending_limit = found.read(lambda: _optional_count(root, "pending_limit"), None) or DEFAULT_PENDING_LIMIT
    counts = found.read(lambda: root.choice("counts", COUNTS) if "counts" in root else "best", "best")
    late = LatePolicy()
    if root.get("late", None) is not None:
        section = found.read(lambda: root.section("late", _LATE_KEYS), None)
        late = _parse_late(section, due_at, tz, found) if section is not None else late
    if found.errors or due_at is None:
        return None, found.errors
    return AssignmentPolicy(due_at, opens_at, published, late, counts, daily_limit, pending_limit), []


def _parse_opens(root: Section, due_at: dt.datetime | None, tz: dt.tzinfo) -> dt.datetime | None:
    if root.get("opens_at", None) is None:
        return None
    opens_at = parse_moment(root.get("opens_at"), root.at("opens_at"), tz)
    if due_at is not None and opens_at >= due_at:
        raise root.at("opens_at").error(
            f"{format_moment(opens_at, tz)} is not before due_at ({format_moment(due_at, tz)})"
        )
    return opens_at


def _parse_published(root: Section) -> bool:
    published = root.get("published", True)
    if not isinstance(published, bool):
        raise root.at("published").expected("true or false", published)
    return published


def _optional_count(root: Section, key: str) -> int | None:
    """Read an optional whole number of at least 1 (absent or empty: None)."""
    if root.get(key, None) is None:
        return None
    return root.integer(key, minimum=1)


def _parse_late(section: Section, due_at: dt.datetime | None, tz: dt.tzinfo, found: _Problems) -> LatePolicy:
    what = "a percentage from 0 to 100"
    percent = found.read(lambda: section.number("penalty_percent", minimum=0, maximum=100, what=what), 0.0)
    per = found.read(lambda: section.choice("per", UNITS), "hour")
    grace = found.read(lambda: parse_duration(section.get("grace", "0"), section.at("grace")), None)
    last_accepted = found.read(lambda: _parse_last_accepted(section, due_at, grace, tz), None)
    return LatePolicy(percent, per, grace or dt.timedelta(0), last_accepted)


def _parse_last_accepted(
    section: Section, due_at: dt.datetime | None, grace: dt.timedelta | None, tz: dt.tzinfo
) -> dt.datetime | dt.timedelta | None:
    """Read the cutoff and check it against the due date and grace (when those could be read)."""
    last_accepted = _parse_cutoff(section.get("last_accepted", None), section.at("last_accepted"), tz)
    if isinstance(last_accepted, dt.datetime) and due_at is not None and last_accepted < due_at:
        raise section.at("last_accepted").error(
            f"{format_moment(last_accepted, tz)} is before due_at ({format_moment(due_at, tz)}); "
            "the last accepted moment must be at or after the due date"
        )
    if isinstance(last_accepted, dt.timedelta) and grace is not None and last_accepted < grace:
        raise section.at("last_accepted").error(
            "is shorter than the grace period; submissions within the grace period are always accepted"
        )
    return last_accepted


def _parse_cutoff(value: object, where: Where, tz: dt.tzinfo) -> dt.datetime | dt.timedelta | None:
    """Read last_accepted: a moment, a duration after the due date, or nothing (no cutoff)."""
    if value is None:
        return None
    if isinstance(value, dt.date) or (isinstance(value, str) and ("-" in value or ":" in value)):
        return parse_moment(value, where, tz)
    try:
        return parse_duration(value, where)
    except SpecError:
        what = 'a moment like "2025-02-15T23:59:00" or a time after the due date like "2d" or "36h"'
        raise where.expected(what, value) from None


def parse_extension(data: object, source: str, policy: AssignmentPolicy, tz: dt.tzinfo) -> Extension:
    """Build one student's Extension; it must move the due date later. Raise SpecError naming the bad field."""
    root = Section(data, Where(source), _EXTENSION_KEYS)
    due_at = parse_moment(root.get("due_at"), root.at("due_at"), tz)
    if due_at <= policy.due_at:
        raise root.at("due_at").error(
            f"{format_moment(due_at, tz)} is not after the assignment's due date "
            f"({format_moment(policy.due_at, tz)}); an extension must move the due date later"
        )
    last_accepted = None
    if root.get("last_accepted", None) is not None:
        last_accepted = parse_moment(root.get("last_accepted"), root.at("last_accepted"), tz)
        if last_accepted < due_at:
            raise root.at("last_accepted").error(
                f"{format_moment(last_accepted, tz)} is before the extension's due_at ({format_moment(due_at, tz)})"
            )
    granted_by = root.get("granted_by", "")
    if granted_by != "":
        granted_by = root.string("granted_by").strip()
    return Extension(due_at, last_accepted, root.string("reason").strip(), granted_by)
