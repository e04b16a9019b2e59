"""Assignment settings and extensions: validated in the course's time zone, mirrored for queries, errors by field."""

from __future__ import annotations

import datetime as dt
import shutil
import zoneinfo

import pytest
from sqlalchemy import select

from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import SpecError
from grader.db import transaction
from grader.models import Assignment, Extension, Role, User
from grader.services import assignment_admin as admin

UTC = dt.timezone.utc
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
FORM = {
    "published": "on",
    "opens_at": "2025-01-20T09:00",
    "due_at": "2025-02-13T23:59",
    "counts": "last",
    "daily_limit": "5",
    "late.penalty_percent": "10",
    "late.per": "hour",
    "late.grace": "15m",
    "late.last_accepted": "2025-02-15T23:59",
}


@pytest.fixture
def world(sessions):
    with transaction(sessions) as session:
        row = Assignment(slug="quick-digits", title="Q")
        other = Assignment(slug="other", title="O")
        prof = User(email="prof@example.org", role=Role.INSTRUCTOR, password_hash="x")
        ta = User(email="ta@example.org", role=Role.TA, password_hash="x")
        ada = User(email="Ada@Example.org", password_hash="x")
        session.add_all([row, other, prof, ta, ada])
        session.flush()
        return {"id": row.id, "other": other.id, "prof": prof.id, "ada": ada.id}


def load(sessions, assignment_id) -> Assignment:
    with sessions() as session:
        return session.get(Assignment, assignment_id)


def field_error(call, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_course_time_zone_is_read_from_course_yaml_or_utc(tmp_path):
    assert admin.course_timezone(load_settings({"GRADER_RUBRICS_DIR": str(tmp_path)})) == UTC
    shutil.copy(PROJECT_ROOT / "rubrics" / "course.yaml", tmp_path / "course.yaml")
    text = (tmp_path / "course.yaml").read_text().replace("timezone: UTC", "timezone: Europe/Berlin")
    (tmp_path / "course.yaml").write_text(text)
    assert admin.course_timezone(load_settings({"GRADER_RUBRICS_DIR": str(tmp_path)})) == BERLIN


def test_settings_are_kept_as_written_and_mirrored_in_utc(sessions, world):
    admin.save_settings(sessions, world["id"], FORM, BERLIN)
    row = load(sessions, world["id"])
    assert row.policy == {
        "published": True,
        "due_at": "2025-02-13T23:59",
        "opens_at": "2025-01-20T09:00",
        "counts": "last",
        "daily_limit": 5,
        "late": {"penalty_percent": 10, "per": "hour", "grace": "15m", "last_accepted": "2025-02-15T23:59"},
    }
    due = row.due_at.replace(tzinfo=row.due_at.tzinfo or UTC)
    assert due == dt.datetime(2025, 2, 13, 22, 59, tzinfo=UTC)  # 23:59 in Berlin
    assert row.published
    policy = admin.read_policy(row, BERLIN)
    assert (policy.counts, policy.daily_limit, policy.late.grace) == ("last", 5, dt.timedelta(minutes=15))
    assert admin.form_from_policy(row) == {**FORM, "daily_limit": "5", "pending_limit": ""}


def test_no_due_date_means_no_deadline(sessions, world):
    admin.save_settings(sessions, world["id"], FORM, UTC)
    admin.save_settings(sessions, world["id"], {"published": ""}, UTC)
    row = load(sessions, world["id"])
    assert (row.policy, row.due_at, row.opens_at, row.published) == (None, None, None, False)


@pytest.mark.parametrize(
    "change,field,words",
    [
        ({"late.per": "week"}, "late.per", "expected one of"),
        ({"daily_limit": "0"}, "daily_limit", "expected a positive integer, got 0"),
        ({"late.penalty_percent": "lots"}, "late.penalty_percent", 'got "lots"'),
        ({"due_at": "tomorrow"}, "due_at", "expected a date and time"),
        ({"opens_at": "2025-03-01T00:00"}, "opens_at", "is not before due_at"),
        ({"late.last_accepted": "2025-02-01T00:00"}, "late.last_accepted", "is before due_at"),
        ({"due_at": ""}, "opens_at", "needs a due date"),
    ],
)
def test_a_wrong_field_is_named_and_nothing_is_saved(sessions, world, change, field, words):
    admin.save_settings(sessions, world["id"], FORM, UTC)
    error = field_error(admin.save_settings, sessions, world["id"], {**FORM, **change}, UTC)
    assert error.field == field and words in error.problem
    assert load(sessions, world["id"]).policy["due_at"] == FORM["due_at"]


def test_publish_and_hide_keep_the_policy_in_step(sessions, world):
    admin.save_settings(sessions, world["id"], FORM, UTC)
    admin.set_published(sessions, world["id"], False, UTC)
    row = load(sessions, world["id"])
    assert row.published is False and row.policy["published"] is False
    admin.set_published(sessions, world["other"], False, UTC)  # no policy: the column alone
    assert load(sessions, world["other"]).published is False


def grant(sessions, world, **form):
    values = {"email": "ada@example.org", "due_at": "2025-02-20T23:59", "reason": "medical certificate", **form}
    return admin.grant_extension(sessions, world["id"], values, world["prof"], BERLIN)


def test_extensions_need_a_due_date_a_student_a_reason_and_a_later_date(sessions, world):
    assert field_error(grant, sessions, world).field == "due_at"  # the assignment has no due date yet
    admin.save_settings(sessions, world["id"], FORM, BERLIN)
    assert "no account" in field_error(grant, sessions, world, email="nobody@example.org").problem
    assert "not a student's" in field_error(grant, sessions, world, email="ta@example.org").problem
    assert field_error(grant, sessions, world, reason=" ").field == "reason"
    assert (
        "is not after the assignment's due date"
        in field_error(grant, sessions, world, due_at="2025-02-13T23:59").problem
    )
    error = field_error(grant, sessions, world, last_accepted="2025-02-19T00:00")
    assert error.field == "last_accepted"


def test_an_extension_is_granted_changed_and_withdrawn(sessions, world):
    admin.save_settings(sessions, world["id"], FORM, BERLIN)
    first = grant(sessions, world)
    second = grant(sessions, world, due_at="2025-02-21T23:59", last_accepted="2025-02-22T12:00", reason="again")
    assert first == second  # one row per student and assignment
    with sessions() as session:
        [row] = session.scalars(select(Extension)).all()
        due = row.due_at.replace(tzinfo=row.due_at.tzinfo or UTC)
        assert due == dt.datetime(2025, 2, 21, 22, 59, tzinfo=UTC)
        assert (row.reason, row.user_id, row.granted_by_id) == ("again", world["ada"], world["prof"])
        assert [e.id for e in admin.list_extensions(session, world["id"])] == [row.id]
    assert admin.revoke_extension(sessions, world["other"], first) is False  # not this assignment's
    assert admin.revoke_extension(sessions, world["id"], first) is True
    assert admin.revoke_extension(sessions, world["id"], first) is False
