"""The student's assignment page (statement, starter, rubric, their dates) and dates that agree on every page."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.config import PROJECT_ROOT
from grader.db import transaction
from grader.models import Assignment, Extension, Role, State
from grader.services.demo import schedule_demo_dates
from tests.web.conftest import csrf_token, web_settings
from tests.web.helpers import SCORED_RESULT, add_submission

UTC = dt.timezone.utc
EVIL = "# Digits with an MLP\n\nRead <script>alert('statement')</script> and <img src=x onerror=alert(1)>.\n"


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """The real digits-mlp folder and rubric, copied so a test may change its statement."""
    root = tmp_path / "course"
    shutil.copytree(PROJECT_ROOT / "assignments" / "digits-mlp", root / "assignments" / "digits-mlp")
    (root / "rubrics").mkdir()
    for name in ("digits-mlp.yaml", "course.yaml"):
        shutil.copy(PROJECT_ROOT / "rubrics" / name, root / "rubrics" / name)
    return root


@pytest.fixture
def settings(tmp_path: Path, database_url: str, course_dir: Path):
    return web_settings(
        tmp_path,
        database_url,
        GRADER_ASSIGNMENTS_DIR=str(course_dir / "assignments"),
        GRADER_RUBRICS_DIR=str(course_dir / "rubrics"),
    )


@pytest.fixture
def student(accounts, auth) -> int:
    user_id = accounts.add("ada@example.org")
    auth.login("ada@example.org")
    return user_id


def sessions_of(app):
    return app.extensions["grader.sessions"]


def set_policy(app, policy: dict | None, **columns) -> int:
    with transaction(sessions_of(app)) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        row.policy = policy
        for name, value in columns.items():
            setattr(row, name, value)
        return row.id


def text_of(page: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces joined."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_list_links_each_assignment_to_its_page(app, client, student):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/assignments/digits-mlp"' in page


def test_the_page_shows_the_statement_starter_rubric_and_the_students_own_dates(app, client, accounts, student):
    policy = {"due_at": "2025-02-13T23:59", "late": {"penalty_percent": 10, "per": "hour", "last_accepted": "2d"}}
    assignment_id = set_policy(app, policy)
    staff = accounts.add("ta@example.org", Role.TA)
    with transaction(sessions_of(app)) as session:
        extended = dt.datetime(2025, 2, 20, 23, 59, tzinfo=UTC)
        session.add(
            Extension(
                assignment_id=assignment_id, user_id=student, due_at=extended, reason="illness", granted_by_id=staff
            )
        )
    response = client.get("/assignments/digits-mlp")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    words = text_of(page)
    assert "<h3>What to submit</h3>" in page and '<code class="language-python">def build_model' in page
    assert 'href="/assignments/digits-mlp/starter/starter.py"' in page
    assert "Test accuracy 70 All 70 points for accuracy at 98% of the best reference" in words
    assert "Due 20 Feb 2025 23:59 UTC" in words
    assert "Your due date is extended from 13 Feb 2025 23:59 UTC to 20 Feb 2025 23:59 UTC (illness)." in words
    assert "Late work accepted until 22 Feb 2025 23:59 UTC at −10% per started hour (up to 100%)." in words
    assert "There is no daily limit on submissions." in words


def test_submissions_left_today_are_counted(app, client, student):
    set_policy(app, {"due_at": "2999-01-01T00:00", "daily_limit": 3})
    add_submission(app, student, State.SCORED, result=SCORED_RESULT, score=8.5, max_score=10.0)
    words = text_of(client.get("/assignments/digits-mlp").get_data(as_text=True))
    assert "2 of 3 fully graded submissions left today" in words


def test_raw_html_in_a_statement_is_shown_as_text(app, client, student, course_dir):
    (course_dir / "assignments" / "digits-mlp" / "README.md").write_text(EVIL)
    page = client.get("/assignments/digits-mlp").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert('statement')&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_only_a_declared_starter_file_is_served(app, client, student, course_dir):
    response = client.get("/assignments/digits-mlp/starter/starter.py")
    assert response.status_code == 200
    assert response.data == (course_dir / "assignments" / "digits-mlp" / "starter.py").read_bytes()
    assert response.headers["Content-Disposition"].startswith("attachment; filename=starter.py")
    (course_dir / "secret.txt").write_text("hidden labels")
    for name in (
        "reference_torch.py",  # in the folder, but not a starter
        "assignment.yaml",
        "..%2Fsecret.txt",
        "..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "starter.py%00.txt",
        "STARTER.PY",
    ):
        response = client.get(f"/assignments/digits-mlp/starter/{name}")
        assert response.status_code == 404, name
        assert b"hidden labels" not in response.data and b"def build_model" not in response.data
    assert client.get("/assignments/digits-mlp/starter/../../secret.txt").status_code == 404


def test_a_hidden_assignment_is_404_for_students_and_shown_to_staff(app, client, accounts, auth, student):
    set_policy(app, None, published=False)
    assert client.get("/assignments/digits-mlp").status_code == 404
    assert client.get("/assignments/digits-mlp/starter/starter.py").status_code == 404
    assert client.get("/assignments/nothing-here").status_code == 404
    auth.logout()
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")
    assert "hidden from students" in client.get("/assignments/digits-mlp").get_data(as_text=True)


def test_an_upload_refused_from_the_page_is_shown_on_the_page(app, client, student):
    set_policy(app, {"due_at": "2025-02-13T23:59"})  # long past, no late work
    data = {"csrf_token": csrf_token(client, "/assignments/digits-mlp"), "file": (io.BytesIO(b"x = 1\n"), "model.py")}
    response = client.post(
        "/assignments/digits-mlp/submit?from=assignment", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<section class="card" id="rubric">' in page  # the assignment page, not the list
    assert re.search(r'id="upload-error" role="alert">Not accepted: The due date was 13 Feb 2025 23:59 UTC', page)


def test_the_demo_dates_agree_on_the_list_the_form_the_grades_page_and_the_api(app, client, accounts, auth):
    now = dt.datetime(2031, 3, 4, 9, 6, 27, tzinfo=UTC)
    with transaction(sessions_of(app)) as session:
        schedule_demo_dates(session, now)
    ada = accounts.add("ada@example.org")
    add_submission(
        app, ada, State.SCORED, result=SCORED_RESULT, score=8.5, max_score=10.0, created_at=now + dt.timedelta(hours=1)
    )
    auth.login("ada@example.org")
    grades = text_of(client.get("/grades").get_data(as_text=True))  # it once said "no deadline" here
    assert "due date of 11 Mar 2031 09:06 UTC: no late penalty" in grades and "no deadline" not in grades
    listed = text_of(client.get("/").get_data(as_text=True))
    assert "Due 11 Mar 2031 09:06 UTC" in listed
    assert "Late work accepted until 12 Mar 2031 09:06 UTC at −10% per started hour" in listed
    auth.logout()
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")
    form = client.get("/staff/assignments/digits-mlp/settings").get_data(as_text=True)
    assert 'name="opens_at" type="text" value="2031-03-04T09:06"' in form
    assert 'name="due_at" type="text" value="2031-03-11T09:06"' in form
    token = accounts.token("api@example.org")
    [listed_api] = client.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}).json["assignments"]
    assert (listed_api["opens_at"], listed_api["due_at"]) == ("2031-03-04T09:06:00+00:00", "2031-03-11T09:06:00+00:00")


def test_saving_the_demo_form_unchanged_keeps_the_opening_date(app, client, accounts, auth):
    with transaction(sessions_of(app)) as session:
        schedule_demo_dates(session, dt.datetime(2031, 3, 4, 9, 6, tzinfo=UTC))
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")
    page = client.get("/staff/assignments/digits-mlp/settings").get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(orig\.[^"]+)" value="([^"]*)"', page))
    typed = {name.removeprefix("orig."): value for name, value in fields.items()}
    data = {"csrf_token": csrf_token(client, "/"), **fields, **{k: v for k, v in typed.items() if v}}
    assert client.post("/staff/assignments/digits-mlp/settings", data=data).status_code == 302
    with sessions_of(app)() as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        assert row.policy["opens_at"] == "2031-03-04T09:06" and row.opens_at is not None


def test_every_settings_mistake_is_shown_next_to_its_field_with_what_was_typed(app, client, accounts, auth):
    set_policy(app, {"due_at": "2025-02-13T23:59", "opens_at": "2025-01-20T09:00"})
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")
    data = {
        "csrf_token": csrf_token(client, "/"),
        "published": "on",
        "opens_at": "2025-01-20T09:00",
        "due_at": "someday",
        "daily_limit": "-2",
        "pending_limit": "0",
        "late.penalty_percent": "lots",
        "late.per": "hour",
        "late.grace": "a while",
    }
    response = client.post("/staff/assignments/digits-mlp/settings", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("due_at", "daily_limit", "pending_limit", "late.penalty_percent", "late.grace"):
        assert re.search(rf'id="f-{re.escape(field)}"[^>]*aria-invalid="true" aria-describedby="e-{field}"', page), (
            field
        )
        assert f'id="e-{field}" role="alert">' in page, field
    assert 'value="someday"' in page and 'value="a while"' in page
    assert "correct the 5 fields marked below" in page
