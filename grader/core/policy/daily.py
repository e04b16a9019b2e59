"""The daily submission limit: past it a submission is still graded, but shows only its status.

Days are calendar days in the course's time zone (the `timezone` of
rubrics/course.yaml; UTC by default), so "5 a day" resets at the midnight the
students live by. A submission that failed on our side (status error) does
not use up the day's quota: it is not the student's fault. One still being
graded does, so the quota cannot be raced by uploading many at once.
The limit hides the score, criteria, metrics and log of the extra
submissions (otherwise students could tune against the hidden test set); it
never changes which submission counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence

from grader.core.outcomes import Status
from grader.core.policy.selection import Attempt
from grader.core.policy.timing import aware


class FeedbackLevel(str, enum.Enum):
    """How much of a graded submission its student sees."""

    FULL = "full"  # score, criteria with feedback, metrics, log
    STATUS = "status"  # state and outcome only: over the day's limit

    def describe(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    FeedbackLevel.FULL: "Full feedback: score, criteria, metrics and the run's output.",
    FeedbackLevel.STATUS: (
        "Over today's limit of fully graded submissions: this one is graded and can count, "
        "but you see only whether it ran. Its score shows in your grade once it counts."
    ),
}


def _day(moment: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return aware(moment).astimezone(tz).date()


def _uses_quota(attempt: Attempt) -> bool:
    return attempt.status is not Status.ERROR


def feedback_levels(attempts: Sequence[Attempt], limit: int | None, tz: dt.tzinfo) -> dict[int | str, FeedbackLevel]:
    """Return each attempt's feedback level: full for the first `limit` of each day, status after."""
    levels: dict[int | str, FeedbackLevel] = {}
    used: dict[dt.date, int] = {}
    for attempt in sorted(attempts, key=lambda a: (aware(a.submitted_at), str(a.id))):
        if not _uses_quota(attempt):
            levels[attempt.id] = FeedbackLevel.FULL
            continue
        day = _day(attempt.submitted_at, tz)
        used[day] = used.get(day, 0) + 1
        full = limit is None or used[day] <= limit
        levels[attempt.id] = FeedbackLevel.FULL if full else FeedbackLevel.STATUS
    return levels


@dataclasses.dataclass(frozen=True)
class Quota:
    """What is left of today's fully graded submissions, and the words for the upload page."""

    limit: int | None
    remaining: int | None  # None: no limit
    message: str


def remaining_today(attempts: Sequence[Attempt], now: dt.datetime, limit: int | None, tz: dt.tzinfo) -> Quota:
    """Return how many fully graded submissions are left today (the day in tz)."""
    if limit is None:
        return Quota(None, None, "There is no daily limit on submissions.")
    today = _day(now, tz)
    used = sum(1 for a in attempts if _uses_quota(a) and _day(a.submitted_at, tz) == today)
    remaining = max(0, limit - used)
    local = aware(now).astimezone(tz)
    resets = f"the count starts again at midnight ({local.tzname()})"
    if remaining:
        message = f"{remaining} of {limit} fully graded submissions left today; {resets}."
    else:
        message = (
            f"You have used today's {limit} fully graded submissions: more are still graded, "
            f"but show only whether they ran; {resets}."
        )
    return Quota(limit, remaining, message)
