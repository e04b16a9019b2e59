"""Deadlines and late work: each rule at its boundaries, the texts students read, and the settings files."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import yaml

from grader.core.errors import SpecError
from grader.core.outcomes import Status
from grader.core.policy import (
    Attempt,
    Extension,
    LatePolicy,
    Override,
    check_acceptance,
    effective_deadlines,
    format_duration,
    grade_assignment,
    late_penalty,
    parse_extension,
    parse_policy,
    select_counting,
)

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)
SECOND, MINUTE, HOUR, DAY = (dt.timedelta(seconds=s) for s in (1, 60, 3600, 86400))
HOURLY = LatePolicy(10, "hour", 15 * MINUTE, 2 * DAY)
SOURCE = "assignments/digits-mlp/policy.yaml"


def penalty(at: dt.datetime, policy: LatePolicy = HOURLY, extension: Extension | None = None):
    return late_penalty(at, effective_deadlines(DUE, policy, extension), policy)


def accepted(at: dt.datetime, policy: LatePolicy = HOURLY, extension: Extension | None = None) -> bool:
    return check_acceptance(at, effective_deadlines(DUE, policy, extension)).accepted


# --- late penalty at the due date ---------------------------------------------------------------


def test_one_second_before_and_at_the_due_date_is_on_time():
    for at in (DUE - SECOND, DUE):
        result = penalty(at, LatePolicy(10, "hour", dt.timedelta(0), None))
        assert result.percent == 0
        assert result.explanation == "submitted by the due date of 13 Feb 2025 23:59 UTC: no late penalty"


def test_one_second_after_the_due_date_without_grace_is_one_started_hour():
    result = penalty(DUE + SECOND, LatePolicy(10, "hour", dt.timedelta(0), None))
    assert result.percent == 10
    assert result.explanation == (
        "submitted 1 s after the due date of 13 Feb 2025 23:59 UTC: 10% per started hour → −10%"
    )


def test_grace_period_edge():
    assert penalty(DUE + 15 * MINUTE).percent == 0
    assert penalty(DUE + 15 * MINUTE).explanation == (
        "submitted 15 min after the due date of 13 Feb 2025 23:59 UTC, within the grace period of 15 min: "
        "no late penalty"
    )
    past = penalty(DUE + 15 * MINUTE + SECOND)
    assert past.percent == 10  # counted from the due date: the first started hour
    assert past.explanation.endswith("(grace 15 min): 10% per started hour → −10%")


def test_the_example_of_the_issue():
    result = penalty(DUE + 2 * HOUR + 10 * MINUTE)
    assert result.percent == 30
    assert result.explanation == (
        "submitted 2 h 10 min after the due date of 13 Feb 2025 23:59 UTC (grace 15 min): 10% per started hour → −30%"
    )


def test_started_hours_and_days_at_their_edges():
    assert penalty(DUE + HOUR).percent == 10
    assert penalty(DUE + HOUR + SECOND).percent == 20
    daily = LatePolicy(25, "day", dt.timedelta(0), None)
    assert penalty(DUE + DAY, daily).percent == 25
    assert penalty(DUE + DAY + SECOND, daily).percent == 50


def test_penalty_is_capped_at_100_percent():
    result = penalty(DUE + 11 * HOUR, LatePolicy(10, "hour", dt.timedelta(0), None))
    assert result.percent == 100
    assert result.explanation.endswith("10% per started hour, capped at 100% → −100%")


def test_late_without_penalty_says_so():
    result = penalty(DUE + HOUR, LatePolicy(0, "hour", dt.timedelta(0), None))
    assert (result.percent, result.explanation.split(": ")[-1]) == (0, "late submissions carry no penalty")


def test_times_show_in_the_course_time_zone():
    deadlines = effective_deadlines(DUE, HOURLY)
    assert late_penalty(DUE, deadlines, HOURLY, BERLIN).explanation == (
        "submitted by the due date of 14 Feb 2025 00:59 CET: no late penalty"
    )


# --- last accepted moment -------------------------------------------------------------------------


def test_last_accepted_moment_is_accepted_one_second_after_is_not():
    assert accepted(DUE + 2 * DAY)
    result = check_acceptance(DUE + 2 * DAY + SECOND, effective_deadlines(DUE, HOURLY))
    assert not result.accepted
    assert result.student_message == (
        "Not accepted: Late submissions were accepted until 15 Feb 2025 23:59 UTC; that moment has passed."
    )
    assert "15 Feb 2025 23:59:01 UTC" in result.staff_detail


def test_default_policy_refuses_everything_after_the_due_date():
    policy = LatePolicy()
    assert accepted(DUE, policy)
    result = check_acceptance(DUE + SECOND, effective_deadlines(DUE, policy))
    assert not result.accepted
    assert result.student_message == (
        "Not accepted: The due date was 13 Feb 2025 23:59 UTC and this assignment accepts no late submissions."
    )


def test_grace_is_always_accepted_even_with_a_hard_cutoff():
    policy = LatePolicy(0, "hour", 15 * MINUTE, dt.timedelta(0))
    assert accepted(DUE + 15 * MINUTE, policy)
    assert not accepted(DUE + 15 * MINUTE + SECOND, policy)


def test_no_cutoff_accepts_late_work_for_ever():
    assert accepted(DUE + 400 * DAY, LatePolicy(10, "day", dt.timedelta(0), None))


def test_before_opening_is_refused():
    opens = DUE - 10 * DAY
    deadlines = effective_deadlines(DUE, HOURLY, opens_at=opens)
    assert check_acceptance(opens, deadlines).accepted
    refused = check_acceptance(opens - SECOND, deadlines)
    assert refused.student_message == "This assignment opens on 3 Feb 2025 23:59 UTC; submit from then on."


# --- extensions -----------------------------------------------------------------------------------

EXTENSION = Extension(DUE + 7 * DAY, None, "medical certificate", "prof@example.org")


def test_extension_moves_the_due_date_and_the_penalty_counts_from_it():
    new_due = DUE + 7 * DAY
    assert penalty(new_due, extension=EXTENSION).percent == 0
    late = penalty(new_due + 15 * MINUTE + SECOND, extension=EXTENSION)
    assert late.percent == 10
    assert late.explanation.startswith("submitted 15 min 1 s after your extended due date of 20 Feb 2025 23:59 UTC")


def test_relative_cutoff_moves_with_the_extension():
    assert accepted(DUE + 9 * DAY, extension=EXTENSION)
    assert not accepted(DUE + 9 * DAY + SECOND, extension=EXTENSION)


def test_fixed_cutoff_never_falls_before_an_extended_due_date():
    policy = LatePolicy(10, "hour", 15 * MINUTE, DUE + DAY)
    deadlines = effective_deadlines(DUE, policy, EXTENSION)
    assert deadlines.last_accepted == DUE + 7 * DAY + 15 * MINUTE
    own = Extension(DUE + 7 * DAY, DUE + 8 * DAY, "exchange semester")
    assert effective_deadlines(DUE, policy, own).last_accepted == DUE + 8 * DAY


def test_refusal_after_an_extended_hard_deadline_names_it():
    result = check_acceptance(DUE + 7 * DAY + SECOND, effective_deadlines(DUE, LatePolicy(), EXTENSION))
    assert result.student_message == (
        "Not accepted: Your extended due date was 20 Feb 2025 23:59 UTC "
        "and this assignment accepts no late submissions."
    )
    assert "extended to 20 Feb 2025 23:59 UTC by prof@example.org: medical certificate" in result.staff_detail


# --- which submission counts ---------------------------------------------------------------------


def attempt(n: int, at: dt.datetime, score: float | None, status: Status | None = Status.SCORED) -> Attempt:
    return Attempt(n, at, status, score, 100.0)


def test_best_takes_a_late_one_only_when_it_wins_after_its_penalty():
    attempts = [attempt(1, DUE - HOUR, 70), attempt(2, DUE + 30 * MINUTE, 80)]  # 80 - 10% = 72
    chosen = select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "best").counted
    assert (chosen.attempt.id, chosen.score_after_penalty) == (2, 72)
    attempts[1] = attempt(2, DUE + 90 * MINUTE, 80)  # 80 - 20% = 64
    chosen = select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "best").counted
    assert chosen.attempt.id == 1


def test_best_breaks_ties_by_the_earliest():
    attempts = [attempt(1, DUE - 2 * HOUR, 70), attempt(2, DUE - HOUR, 70)]
    selection = select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "best")
    assert selection.counted.attempt.id == 1
    assert selection.explanation == (
        "submission #1 (13 Feb 2025 21:59 UTC) counts: the best of your 2 graded submissions after late penalties"
    )


def test_last_takes_the_last_on_time_one_even_when_a_late_one_scores_more():
    attempts = [attempt(1, DUE - HOUR, 90), attempt(2, DUE, 50), attempt(3, DUE + SECOND * 901, 100)]
    selection = select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "last")
    assert selection.counted.attempt.id == 2
    assert selection.explanation == (
        "submission #2 (13 Feb 2025 23:59 UTC) counts: your last submission by the due date "
        "(your 1 late one does not count while an on-time one exists)"
    )


def test_last_counts_a_submission_within_grace_as_on_time():
    attempts = [attempt(1, DUE - HOUR, 90), attempt(2, DUE + 15 * MINUTE, 50)]
    assert select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "last").counted.attempt.id == 2


def test_last_without_an_on_time_one_takes_the_last_late_one_with_its_penalty():
    attempts = [attempt(1, DUE + 20 * MINUTE, 90), attempt(2, DUE + 3 * HOUR, 60)]
    selection = select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "last")
    assert (selection.counted.attempt.id, selection.counted.score_after_penalty) == (2, 42)
    assert "no submission came by the due date, so your last late one counts, with its penalty" in (
        selection.explanation
    )


def test_refused_errored_and_pending_submissions_never_count():
    attempts = [
        attempt(1, DUE - HOUR, 40),
        attempt(2, DUE - 30 * MINUTE, None, Status.ERROR),
        attempt(3, DUE - 10 * MINUTE, None, None),
        attempt(4, DUE + 2 * DAY + SECOND, 100),
    ]
    selection = select_counting(attempts, effective_deadlines(DUE, HOURLY), HOURLY, "last")
    assert selection.counted.attempt.id == 1
    assert selection.refused == (4,)
    assert selection.pending == 1
    assert selection.explanation.endswith(
        "; 1 submission is still being graded; #4 came after the last accepted moment and does not count"
    )


def test_a_failed_run_counts_as_its_zero_under_last():
    attempts = [attempt(1, DUE - HOUR, 90), attempt(2, DUE - MINUTE, 0.0, Status.FAILED)]
    grade = grade_assignment("digits-mlp", 100, attempts, effective_deadlines(DUE, HOURLY), HOURLY, "last")
    assert grade.final.value == 0
    assert grade.raw.explanation.endswith("it failed and scored 0/100")


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="best, last"):
        select_counting([], effective_deadlines(DUE, HOURLY), HOURLY, "first")


# --- the grade breakdown --------------------------------------------------------------------------


def test_breakdown_explains_each_line():
    attempts = [attempt(12, DUE + 2 * HOUR + 10 * MINUTE, 80)]
    grade = grade_assignment("digits-mlp", 100, attempts, effective_deadlines(DUE, HOURLY, EXTENSION), HOURLY, "best")
    assert grade.final.value == 80  # the extension made it on time
    assert grade.extension.explanation == (
        "due date extended to 20 Feb 2025 23:59 UTC by prof@example.org: medical certificate"
    )
    grade = grade_assignment("digits-mlp", 100, attempts, effective_deadlines(DUE, HOURLY), HOURLY, "best")
    assert (grade.raw.value, grade.late_penalty.value, grade.late_percent, grade.final.value) == (80, 24, 30, 56)
    assert grade.raw.explanation == (
        "submission #12 (14 Feb 2025 02:09 UTC) counts: it is your only graded submission; it scored 80/100"
    )
    assert grade.late_penalty.explanation.endswith("10% per started hour → −30%")
    assert grade.final.explanation == "80 − 24 (30% late penalty) = 56 out of 100"
    assert (grade.extension.explanation, grade.override.explanation) == ("no extension", "no override")
    assert grade.percent == 56
    assert grade.to_json()["final"] == {"value": 56, "explanation": "80 − 24 (30% late penalty) = 56 out of 100"}


def test_override_replaces_the_final_and_keeps_the_rest_shown():
    attempts = [attempt(12, DUE + 2 * HOUR + 10 * MINUTE, 80)]
    override = Override(75, "ta@example.org", "upload failed on the university network")
    grade = grade_assignment(
        "digits-mlp", 100, attempts, effective_deadlines(DUE, HOURLY), HOURLY, "best", override=override
    )
    assert (grade.raw.value, grade.late_penalty.value, grade.final.value) == (80, 24, 75)
    assert grade.override.explanation == "set to 75 by ta@example.org: upload failed on the university network"
    assert grade.final.explanation == "75 out of 100, set by override; it replaces 56"
    with pytest.raises(ValueError, match="from 0 to 100"):
        grade_assignment(
            "x", 100, attempts, effective_deadlines(DUE, HOURLY), HOURLY, "best", override=Override(101, "a", "b")
        )


def test_nothing_submitted_is_unknown_until_the_cutoff_then_zero():
    deadlines = effective_deadlines(DUE, HOURLY)
    before = grade_assignment("x", 100, [], deadlines, HOURLY, "best", now=DUE + 2 * DAY)
    assert (before.final.value, before.final.explanation) == (None, "not known yet: nothing submitted")
    after = grade_assignment("x", 100, [], deadlines, HOURLY, "best", now=DUE + 2 * DAY + SECOND)
    assert after.final.value == 0
    assert after.final.explanation == "0: nothing was graded by the last accepted moment (15 Feb 2025 23:59 UTC)"
    pending = grade_assignment("x", 100, [attempt(1, DUE, None, None)], deadlines, HOURLY, "best", now=DUE + 9 * DAY)
    assert pending.final == pending.final.__class__(None, "not known yet: a submission is still being graded")


# --- durations and settings files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("15m", 15 * MINUTE),
        ("2h", 2 * HOUR),
        ("1d", DAY),
        ("1h30m", 90 * MINUTE),
        ("90s", 90 * SECOND),
        ("0", 0 * SECOND),
    ],
)
def test_durations(text, span):
    policy = parse_policy(
        {"due_at": "2025-02-13T23:59:00", "late": {"penalty_percent": 5, "per": "day", "grace": text}}, SOURCE, UTC
    )
    assert policy.late.grace == span


def test_format_duration():
    assert format_duration(DAY + 5 * MINUTE) == "1 d 5 min"
    assert format_duration(0 * SECOND) == "0 s"


POLICY = """
published: true
opens_at: 2025-01-20T09:00:00
due_at: 2025-02-13T23:59:00
counts: last
daily_limit: 5
late:
  penalty_percent: 10
  per: hour
  grace: 15m
  last_accepted: 2d
"""


def test_full_policy_file_in_the_course_time_zone():
    policy = parse_policy(yaml.safe_load(POLICY), SOURCE, BERLIN)
    assert policy.due_at == dt.datetime(2025, 2, 13, 22, 59, tzinfo=UTC)
    assert policy.opens_at == dt.datetime(2025, 1, 20, 9, tzinfo=BERLIN)
    assert (policy.counts, policy.daily_limit, policy.published) == ("last", 5, True)
    assert policy.late == LatePolicy(10, "hour", 15 * MINUTE, 2 * DAY)
    assert policy.late.describe() == (
        "Late submissions lose 10% of their score per started hour, up to 100%; "
        "a grace period of 15 min counts as on time; they are accepted until 2 d after the due date."
    )
    assert policy.deadlines().last_accepted == policy.due_at + 2 * DAY


def test_minimal_policy_has_a_hard_deadline_and_counts_the_best():
    policy = parse_policy({"due_at": dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)}, SOURCE, UTC)
    assert (policy.late, policy.counts, policy.daily_limit) == (LatePolicy(), "best", None)
    assert policy.late.describe() == "No late submissions are accepted."


def test_fixed_last_accepted_moment():
    data = {
        "due_at": "2025-02-13T23:59:00Z",
        "late": {"penalty_percent": 10, "per": "day", "last_accepted": "2025-02-15T23:59:00Z"},
    }
    assert parse_policy(data, SOURCE, UTC).late.last_accepted == DUE + 2 * DAY


def policy_error(changes: str) -> str:
    data = yaml.safe_load(POLICY)
    for key, value in yaml.safe_load(changes).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    with pytest.raises(SpecError) as caught:
        parse_policy(data, SOURCE, UTC)
    return str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ("{due: 2025-02-13T23:59:00}", 'unknown key "due" (did you mean "due_at"?)'),
        ("{late: {grase: 15m}}", 'late: unknown key "grase" (did you mean "grace"?)'),
        ("{due_at: 2025-02-13}", "due_at: 2025-02-13 is a date without a time; write the exact moment"),
        ("{due_at: soon}", 'due_at: expected a date and time like "2025-02-13T23:59:00+01:00"'),
        ("{opens_at: 2025-03-01T00:00:00}", "opens_at: 1 Mar 2025 00:00 UTC is not before due_at"),
        ("{late: {penalty_percent: 150}}", "late.penalty_percent: expected a percentage from 0 to 100, got 150"),
        ("{late: {per: week}}", "late.per: expected one of hour, day"),
        ("{late: {grace: 15 minutes}}", 'late.grace: expected a duration like "15m"'),
        ("{late: {last_accepted: 2025-02-12T00:00:00}}", "late.last_accepted: 12 Feb 2025 00:00 UTC is before due_at"),
        ("{late: {last_accepted: 10m}}", "late.last_accepted: is shorter than the grace period"),
        ("{late: {last_accepted: forever}}", 'late.last_accepted: expected a moment like "2025-02-15T23:59:00"'),
        ("{counts: first}", "counts: expected one of best, last"),
        ("{daily_limit: 0}", "daily_limit: expected a positive integer, got 0"),
        ("{published: maybe}", 'published: expected true or false, got "maybe"'),
    ],
)
def test_policy_mistakes_name_the_field(changes, message):
    assert message in policy_error(changes)
    assert policy_error(changes).startswith(SOURCE + ": ")


def test_missing_penalty_in_a_late_section():
    with pytest.raises(SpecError, match="late.penalty_percent: missing"):
        parse_policy({"due_at": "2025-02-13T23:59:00", "late": {"per": "day"}}, SOURCE, UTC)


def test_extension_file():
    policy = parse_policy(yaml.safe_load(POLICY), SOURCE, UTC)
    data = {"due_at": "2025-02-20T23:59:00", "reason": "medical certificate", "granted_by": "prof@example.org"}
    extension = parse_extension(data, "extension of ada@example.org", policy, UTC)
    assert extension == Extension(DUE + 7 * DAY, None, "medical certificate", "prof@example.org")
    with pytest.raises(SpecError, match="an extension must move the due date later"):
        parse_extension({**data, "due_at": "2025-02-13T23:59:00"}, "ext", policy, UTC)
    with pytest.raises(SpecError, match="last_accepted: 19 Feb 2025 00:00 UTC is before the extension's due_at"):
        parse_extension({**data, "last_accepted": "2025-02-19T00:00:00"}, "ext", policy, UTC)
    with pytest.raises(SpecError, match="reason: missing; expected a non-empty text"):
        parse_extension({"due_at": "2025-02-20T23:59:00"}, "ext", policy, UTC)
