"""`grader db upgrade` on fresh SQLite and PostgreSQL databases."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from grader.cli import main
from grader.models import Base
from tests.databases import KINDS, fresh_database


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
            assert versions == ["0001"]
            columns = {c["name"] for c in inspect(engine).get_columns("submissions")}
            assert columns == set(Base.metadata.tables["submissions"].columns.keys())
        finally:
            engine.dispose()
