"""A student in Chromium reads "hidden until ..." wherever a score over the daily limit would show.

gunicorn serves a migrated SQLite database written directly, as the upload path
and a worker leave it (no training: what is tested is what the pages show):
digits-mlp counts the last submission, allows one fully graded submission a
day and closes tomorrow; the student's first upload of the day shows in full,
the second is graded but hidden, and a third turns from queued to scored while
the page polls.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from grader.models import Assignment, Role, State, Submission
from grader.services.accounts import create_user
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, submission, writing

pytestmark = pytest.mark.slow

COURSE = """
timezone: UTC
components:
  - {id: theory, title: Theory exam, weight: 40, source: staff}
  - {id: digits, title: Digits homework, weight: 60, source: {assignment: digits-mlp}}
"""
HIDDEN_TRACES = ("3.75", "37.5", "22.5")  # the hidden score, its percent, its points of the course total


def _result(score: float) -> dict:
    criterion = {"id": "acc", "title": "Accuracy", "points": score, "max_points": 10.0, "feedback": "Measured."}
    return {"status": "scored", "outcome": "ok", "score": score, "max_score": 10.0, "criteria": [criterion]}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str, int, str]]:
    """gunicorn with a student's full, hidden and queued submissions; yield the URL, DB, queued id and closing text."""
    tmp = tmp_path_factory.mktemp("feedback-site")
    rubrics = tmp / "rubrics"
    rubrics.mkdir()
    (rubrics / "course.yaml").write_text(textwrap.dedent(COURSE))
    with migrated_database("sqlite", tmp) as database_url:
        now = dt.datetime.now(dt.timezone.utc)
        closes = (now + dt.timedelta(days=1)).replace(second=0, microsecond=0)
        policy = {"due_at": closes.replace(tzinfo=None).isoformat(), "counts": "last", "daily_limit": 1}
        with writing(database_url) as session:
            student = create_user(session, email="sam@example.org", role=Role.STUDENT, password=PASSWORD)
            assignment = Assignment(slug="digits-mlp", title="Digits", topic=1, due_at=closes, policy=policy)
            session.add(assignment)
            session.flush()
            done = {"state": State.SCORED, "max_score": 10.0, "outcome": "ok", "finished_at": now}
            full = submission(student, assignment, **done, score=9.25, result=_result(9.25), feedback="full")
            hidden = submission(student, assignment, **done, score=3.75, result=_result(3.75), feedback="status")
            queued = submission(student, assignment, state=State.QUEUED, feedback="status", dispatched_at=now)
            session.add_all([full, hidden, queued])
            session.flush()
            queued_id = queued.id
        with serve(tmp, database_url, GRADER_RUBRICS_DIR=str(rubrics)) as url:
            yield url, database_url, queued_id, f"hidden until {closes.strftime('%d %b %Y %H:%M').lstrip('0')} UTC"


def test_the_grades_page_and_the_submissions_say_hidden_until_and_show_no_hidden_number(site, browser, tmp_path):
    from playwright.sync_api import expect

    url, database_url, queued, hidden_until = site
    page = browser.new_page()
    log_in(page, url, "sam@example.org")

    page.goto(f"{url}/grades")
    expect(page.locator("#course .final")).to_have_text(f"Final: {hidden_until}")
    expect(page.locator("#grade-digits-mlp .notice")).to_contain_text(f"Grade {hidden_until}")
    expect(page.locator('tr[data-component="digits"] .score')).to_have_text(hidden_until)
    page.screenshot(path=str(tmp_path / "grades.png"), full_page=True)
    shown = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    assert [trace for trace in HIDDEN_TRACES if trace in shown] == []

    page.goto(f"{url}/submissions")
    expect(page.get_by_text("scored: 9.25 / 10")).to_have_count(1)
    expect(page.get_by_text(f"scored (score {hidden_until})")).to_have_count(1)
    with writing(database_url) as session:
        values = {"state": State.SCORED, "result": _result(5.5), "score": 5.5, "max_score": 10.0, "outcome": "ok"}
        session.execute(update(Submission).where(Submission.id == queued).values(**values))
    polled = page.locator("tr", has=page.locator(f'a[href="/submissions/{queued}"]')).locator(".status")
    expect(polled).to_have_attribute("data-poll", f"/submissions/{queued}/status.json")
    expect(polled).to_have_text(f"scored (score {hidden_until})", timeout=10_000)  # app.js, from status.json
    page.screenshot(path=str(tmp_path / "submissions.png"), full_page=True)
    assert not re.search(r"\b5\.5\b", page.inner_text("body"))
