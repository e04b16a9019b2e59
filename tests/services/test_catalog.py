"""Syncing assignment folders into the database: insert, refresh, never delete, skip the broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.config import PROJECT_ROOT, load_settings
from grader.db import transaction
from grader.models import Assignment
from grader.services.catalog import sync_assignments

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """Copies of the fixture assignments and rubrics, free to edit."""
    assignments, rubrics = tmp_path / "assignments", tmp_path / "rubrics"
    rubrics.mkdir()
    for slug in ("quick-digits", "tight-digits"):
        shutil.copytree(FIXTURES / "assignments" / slug, assignments / slug)
        shutil.copy(FIXTURES / "rubrics" / f"{slug}.yaml", rubrics)
    return {"assignments": assignments, "rubrics": rubrics}


def sync(sessions, folders):
    settings = load_settings(
        {"GRADER_ASSIGNMENTS_DIR": str(folders["assignments"]), "GRADER_RUBRICS_DIR": str(folders["rubrics"])}
    )
    with transaction(sessions) as session:
        return sync_assignments(session, settings)


def rows(sessions) -> dict[str, tuple[str, int, bool]]:
    with sessions() as session:
        return {a.slug: (a.title, a.topic, a.published) for a in session.scalars(select(Assignment))}


def test_sync_inserts_every_folder_with_its_title_and_topic(sessions, folders):
    slugs = tuple(sorted(p.name for p in folders["assignments"].iterdir()))
    result = sync(sessions, folders)
    assert result.added == slugs and not result.broken
    assert rows(sessions)["quick-digits"] == ("Digits (quick, for tests)", 1, True)
    with sessions() as session:
        tasks = {a.slug: a.task for a in session.scalars(select(Assignment))}
    assert tasks["quick-digits"] == "classification"  # the row records its kind
    again = sync(sessions, folders)
    assert again.added == () and again.unchanged == slugs


def test_sync_refreshes_titles_and_keeps_dates_and_rows_of_removed_folders(sessions, folders):
    sync(sessions, folders)
    with transaction(sessions) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "quick-digits")).one()
        row.published = False  # what staff set on the site stays
    spec = folders["assignments"] / "quick-digits" / "assignment.yaml"
    spec.write_text(spec.read_text().replace('title: "Digits (quick, for tests)"', 'title: "Quick digits, renamed"'))
    shutil.rmtree(folders["assignments"] / "tight-digits")
    result = sync(sessions, folders)
    assert result.updated == ("quick-digits",)
    assert rows(sessions) == {
        "quick-digits": ("Quick digits, renamed", 1, False),
        "tight-digits": ("Digits (tight limits, for tests)", 1, True),
    }


def test_a_broken_folder_is_reported_and_the_others_still_load(sessions, folders):
    spec = folders["assignments"] / "tight-digits" / "assignment.yaml"
    spec.write_text(spec.read_text().replace("topic: 1", "topic: 99"))
    result = sync(sessions, folders)
    assert result.added == ("quick-digits",)
    assert len(result.broken) == 1
    line = result.lines()[-1]
    assert line.startswith("skipped (fix it and sync again):") and "tight-digits/assignment.yaml: topic" in line
    assert set(rows(sessions)) == {"quick-digits"}
