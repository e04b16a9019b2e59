"""Late work: a student's effective deadlines, whether a submission is accepted, and its late penalty.

The rules, each written once here and repeated in the texts students read:

- On time means submitted at or before the due date (to the second: the due
  moment itself is on time).
- Grace: a submission at most `grace` after the due date counts as on time.
  Past the grace period the penalty counts from the due date itself, not from
  the end of the grace period: grace forgives a slow upload, it does not move
  the deadline.
- The penalty is `percent_per_unit` for every started hour or day (a day is 24
  hours from the due date, not a calendar day): 1 second late is one started
  unit. It is capped at 100%, and it is a percentage of the submission's own
  score (80 points, 30% late: 56).
- Last accepted: a fixed moment, a time after the (possibly extended) due
  date, or none (late work accepted for ever, the penalty capped at 100%).
  Nothing after it is accepted. The cutoff is never before the end of the
  grace period, so grace always holds.
- An extension replaces the student's due date, and optionally their last
  accepted moment. Without its own last accepted moment, a cutoff written as a
  time after the due date moves with the extension; a fixed one stays, but
  never falls before the extended due date (and its grace).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from grader.core.policy.timing import aware, format_duration, format_moment

UNITS: dict[str, dt.timedelta] = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
UTC = dt.timezone.utc


@dataclasses.dataclass(frozen=True)
class LatePolicy:
    """How late work is treated. The default accepts nothing after the due date."""

    percent_per_unit: float = 0.0
    per: str = "hour"  # a key of UNITS
    grace: dt.timedelta = dt.timedelta(0)
    last_accepted: dt.datetime | dt.timedelta | None = dt.timedelta(0)  # a moment, a time after the due date, or none

    def describe(self, tz: dt.tzinfo = UTC) -> str:
        """Return the policy in one sentence for the assignment page."""
        grace = f"; a grace period of {format_duration(self.grace)} counts as on time" if self.grace else ""
        if self.last_accepted == dt.timedelta(0):
            return f"No late submissions are accepted{grace}."
        penalty = (
            f"Late submissions lose {self.percent_per_unit:g}% of their score per started {self.per}, up to 100%"
            if self.percent_per_unit
            else "Late submissions carry no penalty"
        )
        if isinstance(self.last_accepted, dt.timedelta):
            cutoff = f"; they are accepted until {format_duration(self.last_accepted)} after the due date"
        elif isinstance(self.last_accepted, dt.datetime):
            cutoff = f"; they are accepted until {format_moment(self.last_accepted, tz)}"
        else:
            cutoff = ""
        return f"{penalty}{grace}{cutoff}."


@dataclasses.dataclass(frozen=True)
class Extension:
    """A new due date for one student, granted by a member of staff for a reason."""

    due_at: dt.datetime
    last_accepted: dt.datetime | None = None
    reason: str = ""
    granted_by: str = ""

    def describe(self, tz: dt.tzinfo = UTC) -> str:
        """Return "extended to 20 Feb 2025 23:59 UTC by ta@x.org: illness"."""
        text = f"extended to {format_moment(self.due_at, tz)}"
        if self.last_accepted is not None:
            text += f" (late work accepted until {format_moment(self.last_accepted, tz)})"
        if self.granted_by:
            text += f" by {self.granted_by}"
        return f"{text}: {self.reason}" if self.reason else text


@dataclasses.dataclass(frozen=True)
class Deadlines:
    """The moments that apply to one student's submissions to one assignment."""

    due_at: dt.datetime
    grace: dt.timedelta
    last_accepted: dt.datetime | None  # None: no cutoff
    opens_at: dt.datetime | None = None
    extension: Extension | None = None

    @property
    def grace_until(self) -> dt.datetime:
        return self.due_at + self.grace

    @property
    def due_words(self) -> str:
        return "your extended due date" if self.extension else "the due date"


def effective_deadlines(
    due_at: dt.datetime,
    policy: LatePolicy,
    extension: Extension | None = None,
    opens_at: dt.datetime | None = None,
) -> Deadlines:
    """Return the due date, grace and cutoff that apply to a student, extension included."""
    due = aware(extension.due_at if extension else due_at)
    if extension is not None and extension.last_accepted is not None:
        cutoff: dt.datetime | None = aware(extension.last_accepted)
    elif policy.last_accepted is None:
        cutoff = None
    elif isinstance(policy.last_accepted, dt.timedelta):
        cutoff = due + policy.last_accepted
    else:
        cutoff = aware(policy.last_accepted)
    if cutoff is not None:
        cutoff = max(cutoff, due + policy.grace)
    return Deadlines(due, policy.grace, cutoff, aware(opens_at) if opens_at else None, extension)


def describe_window(deadlines: Deadlines, policy: LatePolicy, tz: dt.tzinfo = UTC) -> str:
    """Return what a student may still hand in after their due date, in one sentence with the moments.

    "Late work accepted until 15 Feb 2025 23:59 UTC at −10% per started hour (up to 100%)." The moments
    are this student's: an extension moves them, as it does for grading.
    """
    grace = ""
    if deadlines.grace:
        grace = f" Up to {format_duration(deadlines.grace)} after the due date counts as on time."
    cutoff = deadlines.last_accepted
    if cutoff is not None and cutoff <= deadlines.grace_until:
        return f"No late work: nothing is accepted after {format_moment(cutoff, tz)}.{grace}"
    until = f"until {format_moment(cutoff, tz)}" if cutoff is not None else "at any time after the due date"
    if not policy.percent_per_unit:
        return f"Late work accepted {until} without penalty.{grace}"
    penalty = f"at −{policy.percent_per_unit:g}% per started {policy.per} (up to 100%)"
    return f"Late work accepted {until} {penalty}.{grace}"


@dataclasses.dataclass(frozen=True)
class Acceptance:
    """Whether a submission is taken, with the reason for each audience."""

    accepted: bool
    student_message: str
    staff_detail: str


def check_acceptance(submitted_at: dt.datetime, deadlines: Deadlines, tz: dt.tzinfo = UTC) -> Acceptance:
    """Return whether a submission made at submitted_at is accepted, and why not."""
    at = aware(submitted_at)
    stamp = f"submitted at {format_moment(at, tz)}"
    if deadlines.opens_at is not None and at < deadlines.opens_at:
        opens = format_moment(deadlines.opens_at, tz)
        return Acceptance(
            False, f"This assignment opens on {opens}; submit from then on.", f"{stamp}, before it opens ({opens})"
        )
    cutoff = deadlines.last_accepted
    if cutoff is not None and at > cutoff:
        if cutoff <= deadlines.grace_until:
            message = (
                f"{deadlines.due_words.capitalize()} was {format_moment(deadlines.due_at, tz)} "
                "and this assignment accepts no late submissions."
            )
        else:
            message = f"Late submissions were accepted until {format_moment(cutoff, tz)}; that moment has passed."
        extension = f"; {deadlines.extension.describe(tz)}" if deadlines.extension else ""
        detail = f"{stamp}, after the last accepted moment {format_moment(cutoff, tz)}{extension}"
        return Acceptance(False, f"Not accepted: {message}", detail)
    return Acceptance(True, "Accepted.", f"{stamp}: accepted")


@dataclasses.dataclass(frozen=True)
class LatePenalty:
    """The late penalty of one submission, in percent of its score, and the rule that gave it."""

    percent: float
    lateness: dt.timedelta  # zero when on time
    explanation: str

    @property
    def is_late(self) -> bool:
        return self.percent > 0 or self.lateness > dt.timedelta(0)


def late_penalty(
    submitted_at: dt.datetime, deadlines: Deadlines, policy: LatePolicy, tz: dt.tzinfo = UTC
) -> LatePenalty:
    """Return the penalty for a submission made at submitted_at, with the explanation a student reads."""
    lateness = aware(submitted_at) - deadlines.due_at
    due = f"{deadlines.due_words} of {format_moment(deadlines.due_at, tz)}"
    if lateness <= dt.timedelta(0):
        return LatePenalty(0.0, dt.timedelta(0), f"submitted by {due}: no late penalty")
    late = f"submitted {format_duration(lateness)} after {due}"
    if lateness <= deadlines.grace:
        grace = format_duration(deadlines.grace)
        return LatePenalty(0.0, lateness, f"{late}, within the grace period of {grace}: no late penalty")
    if deadlines.grace:
        late += f" (grace {format_duration(deadlines.grace)})"
    if not policy.percent_per_unit:
        return LatePenalty(0.0, lateness, f"{late}: late submissions carry no penalty")
    started = -(-lateness // UNITS[policy.per])
    percent = min(100.0, started * policy.percent_per_unit)
    rule = f"{policy.percent_per_unit:g}% per started {policy.per}"
    if started * policy.percent_per_unit > 100:
        rule += ", capped at 100%"
    return LatePenalty(percent, lateness, f"{late}: {rule} → −{percent:g}%")
