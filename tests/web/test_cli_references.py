"""`grader assignments sync` asks the workers to build every assignment's references, once while on their way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from grader.cli import main
from grader.config import PROJECT_ROOT
from grader.db import make_engine, make_sessions
from grader.models import Assignment
from tests.databases import migrated_database

FIXTURES = {
    "GRADER_ASSIGNMENTS_DIR": str(PROJECT_ROOT / "tests/fixtures/assignments"),
    "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "tests/fixtures/rubrics"),
}
SLUGS = sorted(p.name for p in (PROJECT_ROOT / "tests/fixtures/assignments").iterdir())


@pytest.fixture
def env(tmp_path) -> Iterator[dict[str, str]]:
    """A fresh migrated SQLite database; no broker setting, so the default one in the data folder applies."""
    with migrated_database("sqlite", tmp_path) as url:
        yield {"GRADER_DATABASE_URL": url, "GRADER_DATA_DIR": str(tmp_path), **FIXTURES}


@pytest.fixture
def db(env):
    engine = make_engine(env["GRADER_DATABASE_URL"])
    yield make_sessions(engine)
    engine.dispose()


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env)


def states(db) -> dict[str, tuple[str | None, str | None]]:
    with db() as session:
        rows = session.execute(select(Assignment.slug, Assignment.references_state, Assignment.references_detail))
        return {slug: (state, detail) for slug, state, detail in rows}


def test_sync_queues_a_reference_build_per_assignment_and_not_twice(env, db):
    first = invoke(env, "assignments", "sync")  # the default broker: SQLite in the data folder
    assert first.exit_code == 0, first.output
    assert f"references: build queued for {', '.join(SLUGS)}" in first.output
    assert set(states(db).values()) == {("queued", None)}
    again = invoke(env, "assignments", "sync")
    assert again.exit_code == 0 and f"references: already queued or building: {', '.join(SLUGS)}" in again.output


def test_sync_with_the_broker_down_says_so_and_still_syncs(env, db):
    down = {**env, "GRADER_BROKER_URL": "redis://127.0.0.1:9/0"}  # nothing listens on port 9
    result = invoke(down, "assignments", "sync")
    assert result.exit_code == 0, result.output
    assert f"added: {', '.join(SLUGS)}" in result.output
    assert "references: not queued (the broker is unreachable)" in result.output
    found = states(db)
    failed = [slug for slug, (state, _) in found.items() if state == "failed"]
    assert len(failed) == 1 and "could not be queued" in found[failed[0]][1]  # it stopped asking after the first
    assert all(state is None for slug, (state, _) in found.items() if slug not in failed)
