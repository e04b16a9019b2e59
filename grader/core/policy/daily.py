"""The daily limit of fully graded submissions, and when a score hidden by it may be seen.

One rule, decided once and read everywhere:

- The level is decided when the student uploads, and stored with the upload:
  past `limit` uploads of the assignment that day (calendar days in the
  course's time zone, the `timezone` of rubrics/course.yaml), an upload is
  graded but shows only its status. Only first uploads use the quota: an
  upload that failed on our side (status error) gives its place back, and a
  re-run that staff ask for is no upload at all (it keeps its upload's level).
  One still being graded counts, so the quota cannot be raced by uploading
  many at once.
- A stored level never changes: a limit set or lowered later hides nothing
  the student has already seen.
- A "status" score is shown once the assignment has closed for its student
  (their last accepted moment, extension included), never before: until then
  the student could tune against the hidden test set. Until then every place
  that shows a score, or anything derived from it, says "hidden until ...".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Collection, Sequence
from typing import Protocol

from grader.core.outcomes import Status
from grader.core.policy.selection import Attempt
from grader.core.policy.timing import aware, format_moment

UTC = dt.timezone.utc


class FeedbackLevel(str, enum.Enum):
    """How much of a graded submission its student sees."""

    FULL = "full"  # score, criteria with feedback, metrics, log
    STATUS = "status"  # state and outcome only: uploaded over the day's limit

    def describe(self) -> str:
        return _DESCRIPTIONS[self]

    @classmethod
    def stored(cls, value: str | None) -> FeedbackLevel:
        """Read a stored level: None (rows from before the rule) is full; anything unknown hides (fail closed)."""
        if value is None:
            return cls.FULL
        try:
            return cls(value)
        except ValueError:
            return cls.STATUS


_DESCRIPTIONS = {
    FeedbackLevel.FULL: "Full feedback: score, criteria, metrics and the run's output.",
    FeedbackLevel.STATUS: (
        "Uploaded over that day's limit of fully graded submissions: it is graded and can count, "
        "but you see only whether it ran."
    ),
}


class Upload(Protocol):
    """What the quota needs of an upload: when it came, and how its grading ended (None: not yet)."""

    @property
    def submitted_at(self) -> dt.datetime: ...

    @property
    def status(self) -> Status | None: ...


def _day(moment: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return aware(moment).astimezone(tz).date()


def _uses_quota(upload: Upload) -> bool:
    return upload.status is not Status.ERROR


def used_on(uploads: Sequence[Upload], day: dt.date, tz: dt.tzinfo) -> int:
    """Count the uploads of `day` that use the quota (every one but those that failed on our side)."""
    return sum(1 for u in uploads if _uses_quota(u) and _day(u.submitted_at, tz) == day)


def level_at_upload(earlier: Sequence[Upload], at: dt.datetime, limit: int | None, tz: dt.tzinfo) -> FeedbackLevel:
    """Return the level of an upload made `at`, given the student's earlier uploads of the assignment.

    Decided once, at upload, and stored: nothing later (a new limit, an error,
    a re-run) changes it.
    """
    if limit is None:
        return FeedbackLevel.FULL
    return FeedbackLevel.FULL if used_on(earlier, _day(at, tz), tz) < limit else FeedbackLevel.STATUS


@dataclasses.dataclass(frozen=True)
class Visibility:
    """Whether a student may see a submission's score now, and if not, until when it stays hidden."""

    shown: bool
    level: FeedbackLevel  # as decided at upload
    until: dt.datetime | None = None  # hidden: the moment it shows (None: the assignment has no closing moment)

    def words(self, tz: dt.tzinfo = UTC) -> str:
        """Return "hidden until 13 Feb 2025 23:59 CET" (empty when shown)."""
        if self.shown:
            return ""
        if self.until is None:
            return "hidden until the assignment closes (it has no closing moment yet)"
        return f"hidden until {format_moment(self.until, tz)}"


def score_visibility(level: FeedbackLevel, closes_at: dt.datetime | None, now: dt.datetime) -> Visibility:
    """Answer "may this student see this submission's score now?"; the one rule every page and the API apply.

    `closes_at` is the student's last accepted moment (extension included;
    None: late work is accepted for ever). A full-level score is always shown;
    a status-level one once that moment has passed.
    """
    if level is FeedbackLevel.FULL:
        return Visibility(True, level)
    if closes_at is not None and aware(now) > aware(closes_at):
        return Visibility(True, level)
    return Visibility(False, level, closes_at)


_GRADED = (Status.SCORED, Status.FAILED)


def grade_hidden(
    attempts: Sequence[Attempt], hidden: Collection[int | str], counted: int | str | None, counts: str
) -> bool:
    """Return whether an assignment's grade would reveal a hidden score.

    It does when the counted submission is hidden, and under "best" when any
    graded submission is hidden: which one counts, and the grade itself, say
    how the hidden one compares. Under "last" the choice depends on times and
    statuses only, which the student sees anyway.
    """
    if counted is not None and counted in hidden:
        return True
    return counts == "best" and any(a.id in hidden and a.status in _GRADED for a in attempts)


@dataclasses.dataclass(frozen=True)
class Quota:
    """What is left of today's fully graded submissions, and the words for the upload page."""

    limit: int | None
    remaining: int | None  # None: no limit
    message: str


def remaining_today(uploads: Sequence[Upload], now: dt.datetime, limit: int | None, tz: dt.tzinfo) -> Quota:
    """Return how many fully graded submissions are left today (the day in tz); `uploads` are first uploads only."""
    if limit is None:
        return Quota(None, None, "There is no daily limit on submissions.")
    remaining = max(0, limit - used_on(uploads, _day(now, tz), tz))
    local = aware(now).astimezone(tz)
    resets = f"the count starts again at midnight ({local.tzname()})"
    if remaining:
        message = f"{remaining} of {limit} fully graded submissions left today; {resets}."
    else:
        message = (
            f"You have used today's {limit} fully graded submissions: more are still graded, "
            f"but show their score only once the assignment closes for you; {resets}."
        )
    return Quota(limit, remaining, message)
