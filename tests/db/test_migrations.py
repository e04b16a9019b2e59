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
            assert versions == [head_revision()] == ["0002"]
            for table in ("submissions", "workers"):
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
