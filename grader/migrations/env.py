"""Alembic environment: the URL comes from the caller (grader.migrate), never from a file."""

from __future__ import annotations

from alembic import context

from grader.db import make_engine
from grader.models import Base

config = context.config


def run_migrations_online() -> None:
    """Migrate the database at the URL the caller put in the config."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    # SQLite cannot ALTER most things: batch mode copies the table instead, and a copied table
    # is dropped and renamed, which its foreign keys would refuse (checked again on the next connect).
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


run_migrations_online()
