"""A policy's mistakes all at once, by field, and the late window in the words a student reads."""

from __future__ import annotations

import datetime as dt

import pytest

from grader.core.errors import SpecError
from grader.core.policy import Extension, LatePolicy, describe_window, effective_deadlines, parse_policy
from grader.core.policy.settings import policy_problems

UTC = dt.timezone.utc
DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


def test_every_wrong_field_is_named_at_once():
    data = {
        "due_at": "next friday",
        "opens_at": "soon",
        "daily_limit": 0,
        "pending_limit": "many",
        "counts": "worst",
        "late": {"penalty_percent": 140, "per": "week", "grace": "a while", "last_accepted": "never"},
    }
    problems = policy_problems(data, "settings", UTC)
    assert set(problems) == {
        "due_at",
        "opens_at",
        "daily_limit",
        "pending_limit",
        "counts",
        "late.penalty_percent",
        "late.per",
        "late.grace",
        "late.last_accepted",
    }
    assert "expected a date and time" in problems["due_at"] and "got 0" in problems["daily_limit"]
    with pytest.raises(SpecError) as first:  # parse_policy still raises, naming the first field
        parse_policy(data, "settings", UTC)
    assert first.value.field == "due_at"


def test_fields_checked_against_the_due_date_are_named_only_when_it_can_be_read():
    problems = policy_problems({"due_at": "2025-02-13T23:59", "opens_at": "2025-03-01T00:00"}, "s", UTC)
    assert list(problems) == ["opens_at"] and "is not before due_at" in problems["opens_at"]
    problems = policy_problems({"due_at": "tomorrow", "opens_at": "2025-03-01T00:00"}, "s", UTC)
    assert list(problems) == ["due_at"]  # no guess about the order of a date that cannot be read


def test_a_valid_policy_has_no_problems_and_parses_the_same():
    data = {"due_at": "2025-02-13T23:59", "pending_limit": 2, "late": {"penalty_percent": 10, "per": "hour"}}
    assert policy_problems(data, "s", UTC) == {}
    policy = parse_policy(data, "s", UTC)
    assert (policy.due_at, policy.pending_limit, policy.late.percent_per_unit) == (DUE, 2, 10)


@pytest.mark.parametrize(
    "late,extension,words",
    [
        (LatePolicy(), None, "No late work: nothing is accepted after 13 Feb 2025 23:59 UTC."),
        (
            LatePolicy(10, "hour", dt.timedelta(0), 2 * DAY),
            None,
            "Late work accepted until 15 Feb 2025 23:59 UTC at −10% per started hour (up to 100%).",
        ),
        (
            LatePolicy(10, "hour", dt.timedelta(0), 2 * DAY),
            Extension(DUE + 3 * DAY, reason="illness"),
            "Late work accepted until 18 Feb 2025 23:59 UTC at −10% per started hour (up to 100%).",
        ),
        (
            LatePolicy(5, "day", dt.timedelta(minutes=15), None),
            None,
            "Late work accepted at any time after the due date at −5% per started day (up to 100%). "
            "Up to 15 min after the due date counts as on time.",
        ),
        (
            LatePolicy(0, "hour", dt.timedelta(0), HOUR),
            None,
            "Late work accepted until 14 Feb 2025 00:59 UTC without penalty.",
        ),
    ],
)
def test_the_late_window_names_its_moments_and_penalty(late, extension, words):
    assert describe_window(effective_deadlines(DUE, late, extension), late, UTC) == words
