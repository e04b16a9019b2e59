"""The live status on a student's submission page, in Chromium: it follows the row from queued to running.

Issue 11 item 8: "While running, the page still says 'Waiting in the queue
(position 1)'". gunicorn serves a migrated SQLite database written directly; the
test moves the row the way a worker would and watches the page poll.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from grader.models import Assignment, Role, State, Submission
from grader.services.accounts import create_user
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, submission, writing

pytestmark = pytest.mark.slow
SCREENSHOT = Path(tempfile.gettempdir()) / "grader-status-running.png"  # to look at the page by eye


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str, int, int]]:
    """gunicorn with a student whose first upload is in the queue and whose second waits behind it."""
    tmp = tmp_path_factory.mktemp("status-site")
    with migrated_database("sqlite", tmp) as database_url:
        now = dt.datetime.now(dt.timezone.utc)
        with writing(database_url) as session:
            student = create_user(session, email="sam@example.org", role=Role.STUDENT, password=PASSWORD)
            assignment = Assignment(slug="digits-mlp", title="Digits", topic=1)
            session.add(assignment)
            session.flush()
            first = submission(student, assignment, filename="first.py", state=State.QUEUED, dispatched_at=now)
            second = submission(student, assignment, filename="second.py", state=State.QUEUED)  # waits: not dispatched
            session.add_all([first, second])
            session.flush()
            ids = first.id, second.id
        with serve(tmp, database_url) as url:
            yield url, database_url, *ids


def move(database_url: str, submission_id: int, **values) -> None:
    """Change the row as a worker would."""
    with writing(database_url) as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def logged_in(browser, url: str):
    """A new page with the student logged in."""
    page = browser.new_page()
    log_in(page, url, "sam@example.org")
    return page


def test_an_upload_behind_the_students_own_says_what_it_waits_for(site, browser):
    from playwright.sync_api import expect

    url, _, first, second = site
    page = logged_in(browser, url)
    page.goto(f"{url}/submissions/{second}")
    expect(page.locator(".message")).to_have_text(
        f"Waiting for your submission #{first} to finish first; then it joins the queue (1 ahead now)."
    )
    expect(page.locator(".status")).to_have_text(f"waiting for your #{first}")


def test_the_submission_page_follows_the_run_from_the_queue_to_its_phases(site, browser):
    from playwright.sync_api import expect

    url, database_url, first, _ = site
    page = logged_in(browser, url)
    page.goto(f"{url}/submissions/{first}")
    status, message = page.locator(".status"), page.locator(".message")
    expect(status).to_have_text("queued (position 1)")
    expect(message).to_have_text("Waiting in the queue (position 1).")

    started = dt.datetime.now(dt.timezone.utc)
    move(database_url, first, state=State.RUNNING, started_at=started, progress={"phase": "references"})
    expect(message).to_have_text(
        "Waiting for the course's reference solutions to be built; your model is trained and scored right after.",
        timeout=10_000,
    )
    expect(status).to_contain_text("waiting for the reference solutions")

    move(database_url, first, progress={"phase": "train", "epoch": 2, "epochs": 5})
    expect(message).to_have_text("Running: training your model, epoch 2 of 5.", timeout=10_000)
    expect(status).to_have_text(re.compile(r"^running \d+ s: training your model, epoch 2 of 5$"))
    page.screenshot(path=str(SCREENSHOT))
    assert "Waiting in the queue" not in page.content()

    move(database_url, first, progress={"phase": "predict"})
    expect(message).to_have_text("Running: answering the hidden test inputs.", timeout=10_000)
