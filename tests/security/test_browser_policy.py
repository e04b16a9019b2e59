"""The pages still work in Chromium under the Content-Security-Policy: no violation on any page, app.js runs
(countdowns, live status over fetch), style attributes apply, data: images load, and nothing frames the site.

gunicorn serves a migrated SQLite database written directly (no training: what is
tested is what the browser allows, not grading).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from grader.models import Assignment, Role, State, Submission
from grader.services.accounts import create_user
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, submission, watched_page, writing
from tests.web.helpers import SCORED_RESULT

GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str, int]]:
    """gunicorn with an instructor, a student, an assignment due tomorrow and the student's queued and scored work."""
    tmp = tmp_path_factory.mktemp("csp-site")
    with migrated_database("sqlite", tmp) as database_url:
        now = dt.datetime.now(dt.timezone.utc)
        with writing(database_url) as session:
            create_user(session, email="prof@example.org", role=Role.INSTRUCTOR, password=PASSWORD)
            student = create_user(session, email="sam@example.org", role=Role.STUDENT, password=PASSWORD)
            assignment = Assignment(slug="digits-mlp", title="Digits", topic=1, due_at=now + dt.timedelta(days=1))
            session.add(assignment)
            session.flush()
            scored = submission(
                student, assignment, state=State.SCORED, result=SCORED_RESULT, score=8.5, max_score=10.0,
                outcome="ok", started_at=now, finished_at=now,
            )  # fmt: skip
            queued = submission(student, assignment, state=State.QUEUED, dispatched_at=now)  # in the broker
            session.add_all([scored, queued])
            session.flush()
            queued_id = queued.id
        with serve(tmp, database_url) as url:
            yield url, database_url, queued_id


def test_student_pages_run_their_script_and_poll_under_the_policy(site, browser):
    from playwright.sync_api import expect

    url, database_url, queued = site
    page, problems = watched_page(browser)
    log_in(page, url, "sam@example.org")
    expect(page.locator(".countdown")).to_contain_text("left")  # app.js ran
    page.goto(f"{url}/submissions")
    status = page.locator(f'[data-poll="/submissions/{queued}/status.json"]')
    expect(status).to_contain_text("queued (position")
    with writing(database_url) as session:
        values = {"state": State.SCORED, "result": SCORED_RESULT, "score": 7.0, "max_score": 10.0, "outcome": "ok"}
        session.execute(update(Submission).where(Submission.id == queued).values(**values))
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


def test_staff_pages_show_without_violations_and_keep_their_style_attributes(site, browser):
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
    assert page.evaluate("getComputedStyle(document.querySelector('.gradebook-scroll')).overflowX") == "auto"
    page.goto(f"{url}/staff/assignments/digits-mlp/rubric")  # the editor's full width is a style attribute
    assert page.evaluate("(t => t.offsetWidth === t.form.clientWidth)(document.querySelector('textarea[name=yaml]'))")
    assert problems == []


def test_another_site_cannot_frame_a_page(site, browser):
    """A page of another origin frames the login page and a page of its own: only its own shows."""
    url, _, _ = site
    framing = f'<iframe src="{url}/auth/login"></iframe><iframe src="/own"></iframe>'
    with another_site({"/": framing, "/own": '<p id="own">framed</p>'}) as other:
        page, _ = watched_page(browser)
        page.goto(other, wait_until="load")
        frames = {frame.url.removeprefix(other): frame for frame in page.main_frame.child_frames}
        assert frames["own"].query_selector("#own") is not None  # this browser shows frames...
        assert frames.keys() == {"own", "chrome-error://chromewebdata/"}  # ...but refused the login page
        assert all(frame.query_selector("input[name=email]") is None for frame in frames.values())


@contextlib.contextmanager
def another_site(pages: dict[str, str]) -> Iterator[str]:
    """Serve `pages` (path -> HTML) from another origin; yield its base URL (ending in /)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
