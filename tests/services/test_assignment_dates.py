"""Dates from one source of truth: the policy, mirrored on the row by one writer, and a form that saves only changes."""

from __future__ import annotations

import datetime as dt

import pytest

from grader.db import transaction
from grader.models import Assignment
from grader.services import assignment_admin as admin
from grader.services.assignment_dates import policy_in_force
from grader.services.demo import schedule_demo_dates

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 2, 1, 9, 6, 41, tzinfo=UTC)


@pytest.fixture
def demo_row(sessions) -> int:
    """An assignment dated the way `grader demo` dates it."""
    with transaction(sessions) as session:
        row = Assignment(slug="shapes-cnn", title="Shapes")
        session.add(row)
        session.flush()
        schedule_demo_dates(session, NOW)
        return row.id


def load(sessions, assignment_id: int) -> Assignment:
    with sessions() as session:
        return session.get_one(Assignment, assignment_id)


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=moment.tzinfo or UTC) if moment is not None else None


def posted(form: dict[str, str], original: dict[str, str], **typed: str) -> dict[str, str]:
    """The form as the browser posts it: the fields (with what was typed) and the hidden original values."""
    fields = {**form, **typed}
    return {**fields, **{admin.ORIGINAL + name: value for name, value in original.items()}}


def test_the_demo_writes_its_dates_as_a_policy_the_form_shows(sessions, demo_row):
    row = load(sessions, demo_row)
    policy = policy_in_force(row, UTC)
    assert policy.opens_at == dt.datetime(2025, 2, 1, 9, 6, tzinfo=UTC)
    assert policy.due_at == dt.datetime(2025, 2, 8, 9, 6, tzinfo=UTC)
    assert (aware(row.opens_at), aware(row.due_at)) == (policy.opens_at, policy.due_at)  # the mirror agrees
    form = admin.form_from_policy(row, UTC)
    assert (form["opens_at"], form["due_at"]) == ("2025-02-01T09:06", "2025-02-08T09:06")
    assert (form["late.penalty_percent"], form["late.per"], form["late.last_accepted"]) == ("10", "hour", "1d")


def test_saving_the_demo_form_unchanged_keeps_every_date(sessions, demo_row):
    before = load(sessions, demo_row)
    form = admin.form_from_policy(before, UTC)
    admin.save_settings(sessions, demo_row, posted(form, form), UTC)
    after = load(sessions, demo_row)
    assert after.policy == before.policy
    assert aware(after.opens_at) == dt.datetime(2025, 2, 1, 9, 6, tzinfo=UTC)
    assert aware(after.due_at) == aware(before.due_at)


def test_an_old_row_dated_in_its_columns_alone_reads_and_saves_as_a_policy(sessions):
    opens, due = dt.datetime(2025, 1, 20, 9, 0, tzinfo=UTC), dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)
    with transaction(sessions) as session:
        row = Assignment(slug="old", title="Old", opens_at=opens, due_at=due)
        session.add(row)
        session.flush()
        assignment_id = row.id
    row = load(sessions, assignment_id)
    assert (policy_in_force(row, UTC).opens_at, policy_in_force(row, UTC).due_at) == (opens, due)
    form = admin.form_from_policy(row, UTC)
    assert (form["opens_at"], form["due_at"]) == ("2025-01-20T09:00", "2025-02-13T23:59")
    admin.save_settings(sessions, assignment_id, posted(form, form, daily_limit="4"), UTC)
    saved = load(sessions, assignment_id)
    assert saved.policy == {
        "published": True,
        "opens_at": "2025-01-20T09:00",
        "due_at": "2025-02-13T23:59",
        "daily_limit": 4,
    }
    assert aware(saved.opens_at) == opens


def test_only_the_changed_field_is_written_over_what_another_instructor_saved(sessions, demo_row):
    shown = admin.form_from_policy(load(sessions, demo_row), UTC)
    other = {**shown, "late.penalty_percent": "25"}  # saved by someone else while our form was open
    admin.save_settings(sessions, demo_row, posted(other, shown), UTC)
    admin.save_settings(sessions, demo_row, posted(shown, shown, daily_limit="3"), UTC)
    policy = load(sessions, demo_row).policy
    assert policy["daily_limit"] == 3 and policy["late"]["penalty_percent"] == 25


def test_a_key_the_form_does_not_show_survives_a_save(sessions, demo_row):
    with transaction(sessions) as session:
        row = session.get_one(Assignment, demo_row)
        row.policy = {**row.policy, "late": {**row.policy["late"], "grace": "15m"}, "pending_limit": 2}
    form = admin.form_from_policy(load(sessions, demo_row), UTC)
    assert (form["late.grace"], form["pending_limit"]) == ("15m", "2")
    admin.save_settings(sessions, demo_row, posted(form, form, counts="last"), UTC)
    policy = load(sessions, demo_row).policy
    assert (policy["counts"], policy["pending_limit"], policy["late"]["grace"]) == ("last", 2, "15m")


def test_every_mistake_is_reported_at_once_and_nothing_is_saved(sessions, demo_row):
    before = load(sessions, demo_row).policy
    form = admin.form_from_policy(load(sessions, demo_row), UTC)
    typed = {"due_at": "next friday", "daily_limit": "0", "pending_limit": "lots", "late.grace": "a while"}
    with pytest.raises(admin.SettingsErrors) as caught:
        admin.save_settings(sessions, demo_row, posted(form, form, **typed), UTC)
    assert list(caught.value.problems) == ["due_at", "daily_limit", "pending_limit", "late.grace"]
    assert caught.value.field == "due_at"  # a SpecError naming the first, for callers that show one
    assert load(sessions, demo_row).policy == before


def test_clearing_the_due_date_names_every_field_that_needs_one(sessions, demo_row):
    form = admin.form_from_policy(load(sessions, demo_row), UTC)
    with pytest.raises(admin.SettingsErrors) as caught:
        admin.save_settings(sessions, demo_row, posted(form, form, due_at=""), UTC)
    assert list(caught.value.problems) == ["opens_at", "late.penalty_percent", "late.last_accepted"]
    cleared = {**form, "opens_at": "", "due_at": "", "late.penalty_percent": "", "late.last_accepted": ""}
    admin.save_settings(sessions, demo_row, posted(cleared, form), UTC)
    row = load(sessions, demo_row)
    assert (row.policy, row.opens_at, row.due_at, row.published) == (None, None, None, True)
