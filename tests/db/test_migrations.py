"""`grader db upgrade` on fresh SQLite and PostgreSQL databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from grader.cli import main
from grader.migrate import alembic_config, upgrade
from grader.models import Base
from tests.databases import KINDS, fresh_database


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.mark.parametrize("kind", KINDS)
def test_upgrade_creates_the_tables_and_twice_is_a_no_op(kind, tmp_path, monkeypatch):
    with fresh_database(kind, tmp_path) as url:
        monkeypatch.setenv("GRADER_DATABASE_URL", url)
        for _ in range(2):
            result = CliRunner().invoke(main, ["db", "upgrade"])
            assert result.exit_code == 0, result.output
        engine = create_engine(url)
        try:
            assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == [head_revision()] == ["0007"]
            for table in Base.metadata.tables:
                columns = {c["name"] for c in inspect(engine).get_columns(table)}
                assert columns == set(Base.metadata.tables[table].columns.keys())
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_workers_migration_keeps_existing_rows_and_downgrades(kind, tmp_path):
    """0001 -> 0002 on a database in use keeps its submissions; 0002 -> 0001 drops only the registry."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url, "0001")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO users (email, name, role, password_hash) VALUES ('a@x.org', '', 'student', 'x')")
                )
            upgrade(url)
            assert "workers" in inspect(engine).get_table_names()
            with engine.connect() as connection:
                assert connection.execute(text("SELECT email FROM users")).scalars().all() == ["a@x.org"]
            command.downgrade(alembic_config(url), "0001")
            inspect_after = inspect(engine)
            assert "workers" not in inspect_after.get_table_names() and "users" in inspect_after.get_table_names()
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_grading_records_migration_keeps_submissions_and_downgrades(kind, tmp_path):
    """0002 -> 0003 adds the staff's records beside a graded submission; 0003 -> 0002 takes only them away."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url, "0002")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO users (id, email, name, role, password_hash) VALUES (1, 'a@x.org', '', 'student', 'x')"
                    )
                )
                connection.execute(
                    text("INSERT INTO assignments (id, slug, title, topic, published) VALUES (1, 'a', 'A', 1, true)")
                )
                connection.execute(
                    text(
                        "INSERT INTO submissions (id, user_id, assignment_id, filename, blob_sha256, size_bytes, state,"
                        " attempts, created_at, queued_at, score) VALUES (1, 1, 1, 'm.py', 'ab', 3, 'scored', 1,"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 87.5)"
                    )
                )
            upgrade(url)
            tables = set(inspect(engine).get_table_names())
            assert {"rubric_revisions", "extensions", "overrides", "staff_scores"} <= tables
            with engine.connect() as connection:
                row = connection.execute(text("SELECT score, rerun_of_id FROM submissions")).one()
                assert tuple(row) == (87.5, None)
                assert connection.execute(text("SELECT policy FROM assignments")).scalar_one() is None
            command.downgrade(alembic_config(url), "0002")
            assert "overrides" not in inspect(engine).get_table_names()
            with engine.connect() as connection:
                assert connection.execute(text("SELECT score FROM submissions")).scalar_one() == 87.5
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_task_kind_migration_records_classification_for_existing_assignments(kind, tmp_path):
    """0003 -> 0004: every assignment before task kinds was a classification; the downgrade drops the column."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url, "0003")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO assignments (id, slug, title, topic, published) VALUES (1, 'a', 'A', 1, true)")
                )
            upgrade(url)
            with engine.connect() as connection:
                assert connection.execute(text("SELECT task FROM assignments")).scalar_one() == "classification"
            command.downgrade(alembic_config(url), "0003")
            assert "task" not in {column["name"] for column in inspect(engine).get_columns("assignments")}
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_login_security_migration_adds_sessions_and_failures_and_downgrades(kind, tmp_path):
    """0004 -> 0005: login sessions (ended with their user) and the throttle's failures; the downgrade drops them."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url, "0004")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO users (id, email, name, role, password_hash) VALUES (1, 'a@x.org', '', 'student', 'x')"
                    )
                )
            upgrade(url)
            with engine.begin() as connection:
                if kind == "sqlite":
                    connection.execute(text("PRAGMA foreign_keys=ON"))
                connection.execute(
                    text(
                        "INSERT INTO login_sessions (user_id, token_hash, created_at, expires_at)"
                        " VALUES (1, 'ab', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
                connection.execute(text("INSERT INTO login_failures (key, at) VALUES ('cd', CURRENT_TIMESTAMP)"))
                connection.execute(text("DELETE FROM users WHERE id = 1"))
                assert connection.execute(text("SELECT count(*) FROM login_sessions")).scalar_one() == 0
            indexes = {index["name"] for index in inspect(engine).get_indexes("login_failures")}
            assert "ix_login_failures_key_at" in indexes
            command.downgrade(alembic_config(url), "0004")
            assert not {"login_sessions", "login_failures"} & set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_week_one_migration_marks_waiting_work_as_dispatched_and_downgrades(kind, tmp_path):
    """0005 -> 0006: submissions queued before it are already in the broker, so they count as dispatched."""
    with fresh_database(kind, tmp_path) as url:
        upgrade(url, "0005")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO users (id, email, name, role, password_hash) VALUES (1, 'a@x.org', '', 'student', 'x')"
                    )
                )
                connection.execute(text("INSERT INTO assignments (id, slug, title, topic, task, published) "
                                        "VALUES (1, 'a', 'A', 1, 'classification', true)"))  # fmt: skip
                for sid, state in ((1, "queued"), (2, "scored")):
                    connection.execute(
                        text(
                            "INSERT INTO submissions (id, user_id, assignment_id, filename, blob_sha256, size_bytes, "
                            "state, attempts, created_at, queued_at) VALUES "
                            f"({sid}, 1, 1, 'm.py', 'x', 1, '{state}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                        )
                    )
            upgrade(url)
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT id, dispatched_at FROM submissions ORDER BY id")).all()
            assert rows[0].dispatched_at is not None and rows[1].dispatched_at is None
            command.downgrade(alembic_config(url), "0005")
            assert "dispatched_at" not in {c["name"] for c in inspect(engine).get_columns("submissions")}
        finally:
            engine.dispose()
