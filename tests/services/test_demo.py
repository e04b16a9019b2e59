"""The demo course: accounts whose printed passwords always work, a reusable token, dates only where none are set."""

from __future__ import annotations

import datetime as dt
import stat

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from grader.db import transaction
from grader.models import Assignment, Role
from grader.services import demo
from grader.services.accounts import find_user, verify_password


def test_accounts_are_created_once_and_a_changed_password_gets_the_printed_one_back(sessions):
    with transaction(sessions) as session:
        accounts = demo.ensure_demo_accounts(session, {})
    assert sorted(a.role.value for a in accounts) == ["instructor", "student", "student", "ta"]
    passwords = {a.email: a.password for a in accounts}
    with transaction(sessions) as session:
        find_user(session, "ta@example.org").password_hash = generate_password_hash("changed")
    with transaction(sessions) as session:
        again = demo.ensure_demo_accounts(session, passwords)
        assert {a.email: a.password for a in again} == passwords
        assert all(verify_password(session, a.email, a.password) for a in again)
        assert find_user(session, "ta@example.org").role is Role.TA


def test_a_working_token_is_kept_and_a_stale_one_replaced(sessions):
    with transaction(sessions) as session:
        demo.ensure_demo_accounts(session, {})
        token = demo.ensure_demo_token(session, "ada@example.org", None)
        assert demo.ensure_demo_token(session, "ada@example.org", token) == token
        assert demo.ensure_demo_token(session, "ada@example.org", "grd_gone") != "grd_gone"
        assert demo.ensure_demo_token(session, "alan@example.org", token) != token  # someone else's


def test_demo_dates_fill_only_missing_deadlines(sessions):
    now = dt.datetime(2025, 2, 1, 12, tzinfo=dt.timezone.utc)
    set_by_staff = dt.datetime(2025, 2, 13, 23, 59, tzinfo=dt.timezone.utc)
    with transaction(sessions) as session:
        session.add_all([Assignment(slug="a", title="A"), Assignment(slug="b", title="B", due_at=set_by_staff)])
    with transaction(sessions) as session:
        assert demo.schedule_demo_dates(session, now) == ["a"]
    with sessions() as session:
        due = {a.slug: a.due_at.replace(tzinfo=dt.timezone.utc) for a in session.scalars(select(Assignment))}
    assert due == {"a": now + dt.timedelta(days=7), "b": set_by_staff}


def test_credentials_are_kept_private_and_an_unreadable_file_starts_over(tmp_path):
    demo.write_credentials(tmp_path, {"passwords": {"ada@example.org": "pw"}, "token": "grd_x"})
    assert stat.S_IMODE((tmp_path / demo.CREDENTIALS_FILE).stat().st_mode) == 0o600
    assert demo.read_credentials(tmp_path)["token"] == "grd_x"
    (tmp_path / demo.CREDENTIALS_FILE).write_text("{not json")
    assert demo.read_credentials(tmp_path) == {}


def test_only_an_sqlalchemy_broker_on_sqlite_has_a_file(tmp_path):
    assert demo.sqlite_broker_path(f"sqla+sqlite:///{tmp_path}/broker.db") == tmp_path / "broker.db"
    assert demo.sqlite_broker_path("redis://127.0.0.1:6379/0") is None
    assert demo.sqlite_broker_path("sqla+postgresql://u@h/db") is None


def test_prepare_broker_creates_kombus_tables_and_queues_in_wal_mode(tmp_path):
    import sqlite3

    demo.prepare_broker(f"sqla+sqlite:///{tmp_path}/broker.db")
    database = sqlite3.connect(tmp_path / "broker.db")
    try:
        assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert {r[0] for r in database.execute("select name from kombu_queue")} >= {"cpu", "gpu", "rerun"}
        assert database.execute("select count(*) from kombu_message").fetchone() == (0,)
    finally:
        database.close()
