"""In Chromium: an instructor presses Build references and watches the build's state on the assignments page.

gunicorn serves a migrated SQLite database written directly, with the default
broker (SQLite in the data folder) and no worker: the test writes the states a
worker would (what is tested is the page and its button, not the build).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from grader.models import Assignment, Role
from grader.services.accounts import create_user
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, writing

pytestmark = pytest.mark.slow

MEASURED = {"accuracy": 0.9711, "macro_f1": 0.9702, "parameters": 8906}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """gunicorn with an instructor and one assignment whose references were never built."""
    tmp = tmp_path_factory.mktemp("references-site")
    with migrated_database("sqlite", tmp) as database_url:
        with writing(database_url) as session:
            create_user(session, email="prof@example.org", role=Role.INSTRUCTOR, password=PASSWORD)
            session.add(Assignment(slug="digits-mlp", title="Digits", topic=1))
        with serve(tmp, database_url) as url:
            yield url, database_url


def write_state(database_url: str, **values) -> None:
    """Write what a worker's build would have written."""
    with writing(database_url) as session:
        session.execute(update(Assignment).where(Assignment.slug == "digits-mlp").values(**values))


def test_the_button_queues_a_build_and_the_page_follows_it_to_ready(site, browser, tmp_path):
    from playwright.sync_api import expect

    url, database_url = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, url, "prof@example.org")
    page.goto(f"{url}/staff/assignments/")
    cell = page.locator("#row-digits-mlp td.references")
    expect(cell).to_contain_text("not built")

    cell.get_by_role("button", name="Build references").click()
    expect(page.locator(".flash")).to_contain_text("Its references are being built by a worker")
    expect(cell).to_contain_text("queued since")
    expect(cell.get_by_role("button", name="Build references")).to_have_count(0)  # one build at a time
    page.screenshot(path=str(tmp_path / "queued.png"), full_page=True)

    write_state(database_url, references_state="failed", references_detail="reference_torch.py did not run: timeout")
    page.reload()
    expect(cell).to_contain_text("failed at")
    expect(cell.get_by_text("reference_torch.py did not run: timeout")).to_be_hidden()  # folded until asked
    cell.get_by_text("Why it failed (staff only)").click()
    expect(cell.get_by_text("reference_torch.py did not run: timeout")).to_be_visible()
    page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)

    write_state(database_url, references_state="ready", references={"keras": MEASURED, "torch": MEASURED})
    page.reload()
    expect(cell.locator(".reference-state")).to_have_text("ready")
    expect(cell).to_contain_text("accuracy: keras 0.971 \u00b7 torch 0.971")
    expect(cell.get_by_role("button", name="Build references")).to_be_visible()
    page.screenshot(path=str(tmp_path / "ready.png"), full_page=True)
    print(f"screenshots in {tmp_path}")
