"""HTML is escaped everywhere a student or staff member can put text: names, emails, file names, titles,
results and logs, reasons, search fields and the login form. A page shows the text, never runs it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import update

from grader.db import transaction
from grader.models import Assignment, Extension, Override, Role, Submission, User, utcnow
from grader.services.queue import RecordingQueue
from grader.web import create_app
from tests.databases import migrated_database
from tests.security.conftest import PASSWORD, csrf_token, logged_in, security_settings
from tests.web.conftest import Accounts, submit_form
from tests.web.helpers import SCORED_RESULT, add_scored

MARK = '<script>alert("xss")</script>'
ESCAPED = "&lt;script&gt;alert("
EMAIL = "<svg onload=alert(1)>@example.org"


@dataclass
class Site:
    app: Flask
    submission: int
    student: int


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """A course where everything a person typed carries MARK."""
    tmp = tmp_path_factory.mktemp("escaping")
    with migrated_database("sqlite", tmp) as url:
        app = create_app(security_settings(tmp, url), queue=RecordingQueue(), test_config={"TESTING": True})
        accounts = Accounts(app)
        student, prof = accounts.add(EMAIL), accounts.add("prof@example.org", Role.INSTRUCTOR)
        with transaction(app.extensions["grader.sessions"]) as session:
            session.execute(update(User).where(User.id == student).values(name=MARK))
            session.add(Assignment(slug="digits-mlp", title=f"Digits {MARK}", topic=1))
        submission = add_scored(app, student)
        result = {
            **SCORED_RESULT,
            "student_message": MARK,
            "staff_detail": MARK,
            "log": MARK,
            "criteria": [{"id": "acc", "title": MARK, "points": 1, "max_points": 2, "feedback": MARK}],
            "metrics": {"accuracy": 0.5, MARK: 1.0},
            "curve": [{"epoch": 1, "loss": 0.5, MARK: 1}],
        }
        with transaction(app.extensions["grader.sessions"]) as session:
            row = session.get_one(Submission, submission)
            row.result, row.filename, row.error_detail = result, f"{MARK}.py", MARK
            session.add(Override(submission_id=submission, by_id=prof, points_before=8.5, points_after=9, reason=MARK))
            session.add(
                Extension(
                    assignment_id=row.assignment_id, user_id=student, due_at=utcnow(), reason=MARK, granted_by_id=prof
                )
            )
        yield Site(app, submission, student)
        app.extensions["grader.engine"].dispose()


STUDENT_PAGES = ["/", "/submissions", "/submissions/{submission}", "/grades"]
STAFF_PAGES = [
    "/submissions/{submission}",
    "/staff/submissions",
    "/staff/submissions/{submission}",
    "/staff/gradebook",
    "/staff/scores",
    "/staff/students/{student}/grades",
    "/staff/assignments/",
    "/staff/assignments/digits-mlp/settings",
]
REFLECTED = [
    "/staff/submissions?student=" + MARK,
    "/staff/submissions?min_score=" + MARK,
    "/staff/submissions?state=" + MARK,
    "/staff/scores?component=" + MARK,
]


def assert_escaped(body: str, where: str) -> None:
    assert MARK not in body and "<svg onload" not in body, where
    assert ESCAPED in body or "&lt;svg onload" in body, f"{where}: the text is not shown at all"


@pytest.mark.parametrize("path", STUDENT_PAGES)
def test_the_students_own_pages_escape_what_they_typed(site: Site, path):
    browser = logged_in(site.app, EMAIL)
    page = path.format(submission=site.submission, student=site.student)
    response = browser.get(page)
    assert response.status_code == 200
    assert_escaped(response.get_data(as_text=True), page)


@pytest.mark.parametrize("path", STAFF_PAGES + REFLECTED)
def test_staff_pages_escape_what_students_and_staff_typed(site: Site, path):
    browser = logged_in(site.app, "prof@example.org")
    page = path.format(submission=site.submission, student=site.student)
    response = browser.get(page)
    assert response.status_code in (200, 400)
    assert_escaped(response.get_data(as_text=True), page)


def test_the_login_form_escapes_the_email_it_shows_again(site: Site):
    client = site.app.test_client()
    data = {"email": MARK, "password": PASSWORD + "x", "csrf_token": csrf_token(client)}
    response = client.post("/auth/login", data=data)
    assert response.status_code == 401
    assert_escaped(response.get_data(as_text=True), "login")


def test_a_refused_upload_shows_the_file_name_escaped(site: Site):
    browser = logged_in(site.app, EMAIL)
    response = submit_form(browser, b"x = 1\n", filename="<img src=x onerror=alert(1)>.txt")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;.txt is not a file grader accepts" in body
