"""The daily limit: the level decided at upload, the quota, and when a hidden score may be seen."""

import datetime as dt
from zoneinfo import ZoneInfo

from grader.core.outcomes import Status
from grader.core.policy import (
    Attempt,
    FeedbackLevel,
    grade_hidden,
    level_at_upload,
    remaining_today,
    score_visibility,
)

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
MINUTE, HOUR, DAY = (dt.timedelta(seconds=s) for s in (60, 3600, 86400))
START = dt.datetime(2025, 2, 12, 9, tzinfo=UTC)
FULL, STATUS = FeedbackLevel.FULL, FeedbackLevel.STATUS


def upload(at: dt.datetime, status: Status | None = Status.SCORED, n: int = 0) -> Attempt:
    return Attempt(n, at, status, 50.0 if status is Status.SCORED else None, 100.0)


def test_the_level_counts_calendar_days_in_the_course_time_zone():
    # 22:30 UTC on 12 Feb is 23:30 in Berlin; 23:30 UTC is already 13 Feb there.
    first = dt.datetime(2025, 2, 12, 22, 30, tzinfo=UTC)
    second = dt.datetime(2025, 2, 12, 23, 30, tzinfo=UTC)
    assert level_at_upload([upload(first)], second, 1, BERLIN) is FULL
    assert level_at_upload([upload(first)], second, 1, UTC) is STATUS
    assert level_at_upload([upload(first), upload(second)], second + MINUTE, 1, BERLIN) is STATUS


def test_errors_on_our_side_give_the_quota_back_and_pending_ones_use_it():
    assert level_at_upload([upload(START, Status.ERROR)], START + HOUR, 1, UTC) is FULL
    assert level_at_upload([upload(START, None)], START + HOUR, 1, UTC) is STATUS  # still being graded: counts
    assert level_at_upload([upload(START, Status.FAILED)], START + HOUR, 1, UTC) is STATUS  # their fault: counts
    assert level_at_upload([upload(START)] * 5, START + HOUR, None, UTC) is FULL


def test_the_quota_left_today():
    uploads = [upload(START, Status.ERROR), upload(START + HOUR), upload(START + 2 * HOUR)]
    quota = remaining_today(uploads, START + 3 * HOUR, 2, UTC)
    assert (quota.remaining, quota.message) == (
        0,
        "You have used today's 2 fully graded submissions: more are still graded, but show their score only "
        "once the assignment closes for you; the count starts again at midnight (UTC).",
    )
    assert remaining_today(uploads, START + DAY, 2, UTC).remaining == 2
    assert remaining_today(uploads, START, None, UTC).remaining is None


def test_a_hidden_score_shows_only_after_the_last_accepted_moment():
    closes = START + DAY
    assert score_visibility(FULL, closes, START).shown
    hidden = score_visibility(STATUS, closes, START)
    assert (hidden.shown, hidden.until, hidden.words(BERLIN)) == (False, closes, "hidden until 13 Feb 2025 10:00 CET")
    assert not score_visibility(STATUS, closes, closes).shown  # the last accepted moment itself still takes work
    assert score_visibility(STATUS, closes, closes + dt.timedelta(seconds=1)).shown
    forever = score_visibility(STATUS, None, START + 1000 * DAY)
    assert not forever.shown and forever.words() == "hidden until the assignment closes (it has no closing moment yet)"


def test_unknown_stored_levels_hide_and_old_rows_show():
    assert FeedbackLevel.stored(None) is FULL
    assert FeedbackLevel.stored("status") is STATUS
    assert FeedbackLevel.stored("garbled") is STATUS


def test_a_grade_is_hidden_when_it_would_reveal_a_hidden_score():
    seen, hidden, pending = upload(START, n=1), upload(START + HOUR, n=2), upload(START + 2 * HOUR, None, n=3)
    attempts = [seen, hidden, pending]
    assert grade_hidden(attempts, {2}, 2, "last")  # the counted one is hidden
    assert not grade_hidden(attempts, {2}, 1, "last")  # "last" chose by time: nothing about #2's score
    assert grade_hidden(attempts, {2}, 1, "best")  # "best" chose #1 over #2: that says #2 scored less
    assert not grade_hidden(attempts, {3}, 1, "best")  # a hidden one not graded yet compares with nothing
    assert not grade_hidden(attempts, set(), None, "best")
