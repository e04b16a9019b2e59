"""The pages still work in Chromium under the Content-Security-Policy: no violation on any page, app.js runs
(countdowns, live status over fetch), style attributes apply, data: images load, and nothing frames the site.

gunicorn serves a migrated SQLite database written directly (no training: what is
tested is what the browser allows, not grading).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from grader.db import make_engine, make_sessions, transaction
from grader.models import Assignment, Role, State, Submission
from grader.services.accounts import create_user
from tests.databases import migrated_database
from tests.e2e.conftest import BIN, free_port, start, stop, wait_until_up
from tests.e2e.test_browser import browser  # noqa: F401 (the fixture: Debian's Chromium through Playwright)
from tests.web.helpers import SCORED_RESULT

PASSWORD = "correct horse battery"
GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str, int]]:
    """gunicorn with an instructor, a student, an assignment due tomorrow and the student's queued and scored work."""
    tmp = tmp_path_factory.mktemp("csp-site")
    with migrated_database("sqlite", tmp) as database_url:
        engine = make_engine(database_url)
        now = dt.datetime.now(dt.timezone.utc)
        with transaction(make_sessions(engine)) as session:
            create_user(session, email="prof@example.org", role=Role.INSTRUCTOR, password=PASSWORD)
            student = create_user(session, email="sam@example.org", role=Role.STUDENT, password=PASSWORD)
            assignment = Assignment(slug="digits-mlp", title="Digits", topic=1, due_at=now + dt.timedelta(days=1))
            session.add(assignment)
            session.flush()
            common = {
                "user_id": student.id,
                "assignment_id": assignment.id,
                "filename": "m.py",
                "blob_sha256": "0" * 64,
            }
            scored = Submission(
                **common, size_bytes=1, state=State.SCORED, result=SCORED_RESULT, score=8.5, max_score=10.0,
                outcome="ok", started_at=now, finished_at=now,
            )  # fmt: skip
            queued = Submission(**common, size_bytes=1, state=State.QUEUED)
            session.add_all([scored, queued])
            session.flush()
            queued_id = queued.id
        engine.dispose()
        env = {"GRADER_DATA_DIR": str(tmp / "data"), "GRADER_DATABASE_URL": database_url}
        port, log = free_port(), tmp / "web.log"
        web = start([str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "grader.wsgi:app"], env, log)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, web, log)
            yield url, database_url, queued_id
        finally:
            stop(web)


def watched_page(browser):  # noqa: F811
    """A page whose CSP violations and script errors are collected."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def log_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


def test_student_pages_run_their_script_and_poll_under_the_policy(site, browser):  # noqa: F811
    from playwright.sync_api import expect

    url, database_url, queued = site
    page, problems = watched_page(browser)
    log_in(page, url, "sam@example.org")
    expect(page.locator(".countdown")).to_contain_text("left")  # app.js ran
    page.goto(f"{url}/submissions")
    status = page.locator(f'[data-poll="/submissions/{queued}/status.json"]')
    expect(status).to_contain_text("queued (position")
    engine = make_engine(database_url)
    with transaction(make_sessions(engine)) as session:
        values = {"state": State.SCORED, "result": SCORED_RESULT, "score": 7.0, "max_score": 10.0, "outcome": "ok"}
        session.execute(update(Submission).where(Submission.id == queued).values(**values))
    engine.dispose()
    expect(page.locator(".status-scored")).to_have_count(2, timeout=10_000)  # fetch() allowed by connect-src
    for path in ("/grades", f"/submissions/{queued}", "/auth/password"):
        page.goto(f"{url}{path}")
    loaded = page.evaluate(
        "src => new Promise(done => { const i = new Image(); i.onload = () => done(true);"
        " i.onerror = () => done(false); i.src = src; })",
        GIF,
    )
    assert loaded, "a data: image was blocked"
    assert problems == []


def test_staff_pages_show_without_violations_and_keep_their_style_attributes(site, browser):  # noqa: F811
    url, _, queued = site
    page, problems = watched_page(browser)
    log_in(page, url, "prof@example.org")
    for path in (
        "/staff/submissions",
        f"/staff/submissions/{queued}",
        "/staff/scores",
        "/staff/workers",
        "/staff/assignments/",
        "/staff/assignments/digits-mlp/settings",
        "/staff/assignments/digits-mlp/rubric",
        "/staff/gradebook",
    ):
        page.goto(f"{url}{path}")
    assert page.evaluate("getComputedStyle(document.querySelector('div.scroll')).overflowX") == "auto"
    assert problems == []


def test_another_site_cannot_frame_a_page(site, browser):  # noqa: F811
    url, _, _ = site
    page, _ = watched_page(browser)
    page.set_content(f'<iframe id="f" src="{url}/auth/login"></iframe>', wait_until="domcontentloaded")
    page.wait_for_timeout(1000)
    frame = page.frame_locator("#f")
    assert frame.locator("input[name=email]").count() == 0
