"""A TA overrides a score in headless Chromium; then the student logs in and sees the new score and the comment.

The server is gunicorn on a migrated SQLite database; the scored submission is
written straight into the database as a worker leaves it (no training needed:
what is tested is the review flow, not grading).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from grader.db import make_engine, make_sessions, transaction
from grader.models import Assignment, Override, State, Submission, User
from tests.databases import migrated_database
from tests.e2e.conftest import BIN, fixture_environ, free_port, grader, start, stop, wait_until_up
from tests.e2e.test_browser import browser  # noqa: F401 (the fixture: Debian's Chromium through Playwright)
from tests.web.helpers import SCORED_RESULT

TA, TA_NAME, STUDENT = "tess@example.org", "Tess Assistant", "sam@example.org"
PASSWORD = "correct horse battery"
REASON = "The test set had a mislabelled class; full marks for accuracy."


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """gunicorn serving a database with a TA, a student and the student's scored submission: (url, database url)."""
    tmp = tmp_path_factory.mktemp("override-site")
    with migrated_database("sqlite", tmp) as database_url:
        env = {**fixture_environ(tmp, tmp / "cache"), "GRADER_DATABASE_URL": database_url}
        for args in (
            ("assignments", "sync"),
            ("users", "add", TA, "--role", "ta", "--password", PASSWORD, "--name", TA_NAME),
            ("users", "add", STUDENT, "--password", PASSWORD, "--name", "Sam Student"),
        ):
            done = grader(*args, env=env)
            assert done.returncode == 0, done.stderr + done.stdout
        port = free_port()
        log = tmp / "web.log"
        web = start([str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "grader.wsgi:app"], env, log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, web, log)
            yield url, database_url
        finally:
            stop(web)


def add_scored_submission(database_url: str) -> int:
    """Write a scored submission of the student as a worker would; return its id."""
    engine = make_engine(database_url)
    try:
        with transaction(make_sessions(engine)) as session:
            student = session.scalars(select(User).where(User.email == STUDENT)).one()
            assignment = session.scalars(select(Assignment).order_by(Assignment.slug)).first()
            now = dt.datetime.now(dt.timezone.utc)
            row = Submission(
                user_id=student.id, assignment_id=assignment.id, filename="model.py", blob_sha256="0" * 64,
                size_bytes=10, state=State.SCORED, result=SCORED_RESULT, outcome="ok", score=8.5, max_score=10.0,
                started_at=now - dt.timedelta(seconds=5), finished_at=now, attempts=1, worker="host:1",
            )  # fmt: skip
            session.add(row)
            session.flush()
            return row.id
    finally:
        engine.dispose()


def log_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


def test_a_ta_overrides_a_score_and_the_student_sees_it_with_the_comment(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    url, database_url = site
    sid = add_scored_submission(database_url)

    ta = browser.new_context().new_page()
    log_in(ta, url, TA)
    ta.get_by_role("link", name="Submissions", exact=True).click()
    ta.get_by_label("Student (email or name)").fill("sam")
    ta.get_by_role("button", name="Filter").click()
    ta.get_by_role("link", name=str(sid), exact=True).click()
    expect(ta.get_by_role("heading", name=re.compile(f"Grading log #{sid}"))).to_be_visible()
    expect(ta.locator("pre.log")).to_contain_text("epoch 5/5 loss 0.1")

    ta.get_by_label(re.compile(r"New score")).fill("10")
    ta.get_by_role("button", name="Override the score").click()  # no reason: refused in place
    expect(ta.get_by_role("alert")).to_have_text("A reason is required: the student sees it next to the score.")
    ta.get_by_label(re.compile(r"^Reason \(the student reads it\)")).fill(REASON)
    ta.get_by_role("button", name="Override the score").click()
    expect(ta.locator(".flash")).to_contain_text(f"Score of #{sid} set to 10")
    expect(ta.locator("#score-in-force")).to_contain_text(f"10 (override by {TA_NAME})")
    expect(ta.locator("table.audit tbody tr")).to_have_count(1)
    expect(ta.locator("table.audit")).to_contain_text(REASON)
    ta.context.close()

    student = browser.new_context().new_page()
    log_in(student, url, STUDENT)
    student.get_by_role("link", name="My submissions").click()
    expect(student.locator(".status").first).to_have_text("scored: 10 / 10 (changed by staff)")
    student.get_by_role("link", name=str(sid), exact=True).click()
    changed = student.get_by_role("region", name="Score changed by staff")
    expect(changed).to_contain_text(f"Score changed to 10 / 10 by {TA_NAME} on")
    expect(changed).to_contain_text("the rubric gave 8.5")
    expect(changed.locator("blockquote")).to_have_text(REASON)
    expect(student.get_by_role("link", name="Grading log (staff)")).to_have_count(0)
    student.context.close()

    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            rows = session.scalars(select(Override).where(Override.submission_id == sid)).all()
            assert [(r.points_before, r.points_after, r.reason) for r in rows] == [(8.5, 10.0, REASON)]
    finally:
        engine.dispose()
