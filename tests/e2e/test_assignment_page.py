"""The student's assignment page and the instructor's settings form, in Chromium against gunicorn.

The site is the demo's course as `grader demo` prepares it (the assignment
folders synced, dated by the demo), on a migrated SQLite database written
directly; nothing is graded. A student reads the statement, the rubric in
words, their late window and extension, and downloads the starter; an
instructor sees the demo's dates in the form and every mistake next to its
field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.config import PROJECT_ROOT, load_settings
from grader.models import Assignment, Extension, Role
from grader.services.accounts import create_user
from grader.services.catalog import sync_assignments
from grader.services.demo import schedule_demo_dates
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, site_environ, watched_page, writing

pytestmark = pytest.mark.slow

NOW = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    """gunicorn over the demo's course: an instructor, and a student with an extension on digits-mlp."""
    tmp = tmp_path_factory.mktemp("assignment-page")
    with migrated_database("sqlite", tmp) as database_url:
        with writing(database_url) as session:
            sync_assignments(session, load_settings(site_environ(tmp, database_url)))
            schedule_demo_dates(session, NOW)
            prof = create_user(session, email="prof@example.org", role=Role.INSTRUCTOR, password=PASSWORD)
            student = create_user(session, email="sam@example.org", role=Role.STUDENT, password=PASSWORD)
            digits = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
            session.add(
                Extension(
                    assignment_id=digits.id,
                    user_id=student.id,
                    due_at=NOW + dt.timedelta(days=9),
                    reason="medical certificate",
                    granted_by_id=prof.id,
                )
            )
        with serve(tmp, database_url) as url:
            yield url


def test_a_student_reads_the_statement_rubric_and_late_window_and_downloads_the_starter(
    site, browser, tmp_path_factory
):
    from playwright.sync_api import expect

    artifacts = tmp_path_factory.mktemp("assignment-page-shots")
    page, problems = watched_page(browser, viewport={"width": 1280, "height": 900})
    log_in(page, site, "sam@example.org")
    page.screenshot(path=str(artifacts / "assignments.png"), full_page=True)
    page.locator("section#digits-mlp").get_by_role("link", name="Digits: your first classifier").click()
    page.wait_for_url(f"{site}/assignments/digits-mlp")

    statement = page.locator("#statement")
    expect(statement.get_by_role("heading", name="What to submit")).to_be_visible()  # Markdown, rendered
    expect(statement.locator("pre code").first).to_contain_text("def build_model")
    rubric = page.locator("#rubric")
    expect(rubric.get_by_role("row", name=re.compile("Test accuracy"))).to_contain_text(
        "All 70 points for accuracy at 98% of the best reference"
    )
    expect(rubric.get_by_role("row", name=re.compile("Matches the Keras reference"))).to_contain_text(
        "Accuracy at least 97% of the Keras reference: all 10 points, otherwise none."
    )
    expect(rubric.get_by_role("row", name=re.compile("Parameter budget"))).to_contain_text("not scored")

    dates = page.locator("#dates")
    extended = NOW + dt.timedelta(days=9)
    expect(dates.locator(".extension")).to_contain_text("medical certificate")
    expect(dates.locator(".due")).to_contain_text(f"Due {extended:%-d %b %Y %H:%M} UTC")
    cutoff = extended + dt.timedelta(days=1)
    expect(dates.locator(".late-window")).to_have_text(
        f"Late work accepted until {cutoff:%-d %b %Y %H:%M} UTC at −10% per started hour (up to 100%)."
    )
    expect(dates.locator(".quota")).to_contain_text("There is no daily limit on submissions.")
    expect(dates.locator(".countdown")).to_contain_text("left")  # app.js ran under the page's policy

    with page.expect_download() as downloading:
        page.locator("#starter").get_by_role("link", name="starter.py").click()
    saved = Path(downloading.value.path())
    assert downloading.value.suggested_filename == "starter.py"
    assert saved.read_bytes() == (PROJECT_ROOT / "assignments" / "digits-mlp" / "starter.py").read_bytes()
    page.screenshot(path=str(artifacts / "assignment-page.png"), full_page=True)
    assert problems == []


def test_the_settings_form_shows_the_demo_dates_and_every_mistake_next_to_its_field(site, browser, tmp_path_factory):
    from playwright.sync_api import expect

    artifacts = tmp_path_factory.mktemp("settings-shots")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, site, "prof@example.org")
    page.goto(f"{site}/staff/assignments/shapes-cnn/settings")
    expect(page.get_by_label("Opens at")).to_have_value(f"{NOW:%Y-%m-%dT%H:%M}")  # the demo's dates, in force
    expect(page.get_by_label("Due at")).to_have_value(f"{NOW + dt.timedelta(days=7):%Y-%m-%dT%H:%M}")

    page.get_by_label("Due at").fill("next friday")
    page.get_by_label("Fully graded submissions per day").fill("0")
    page.get_by_label("Grace period").fill("a while")
    page.get_by_role("button", name="Save settings").click()

    for field, words in (
        ("due_at", "expected a date and time"),
        ("daily_limit", "expected a positive integer"),
        ("late.grace", "expected a duration"),
    ):
        box = page.locator(f'[id="f-{field}"]')
        expect(box).to_have_attribute("aria-invalid", "true")
        expect(box).to_have_attribute("aria-describedby", f"e-{field}")
        expect(page.locator(f'[id="e-{field}"]')).to_contain_text(words)
    expect(page.get_by_label("Due at")).to_have_value("next friday")  # what was typed stays
    expect(page.get_by_label("Opens at")).to_have_value(f"{NOW:%Y-%m-%dT%H:%M}")
    page.screenshot(path=str(artifacts / "settings-errors.png"), full_page=True)
