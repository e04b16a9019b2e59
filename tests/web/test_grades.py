"""The grades pages, GET /api/v1/grades/me and the staff score form: what each audience sees and may do."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Extension, Override, Role, StaffScore, State
from tests.databases import KINDS, migrated_database
from tests.web.conftest import csrf_token, web_settings
from tests.web.helpers import add_submission

UTC = dt.timezone.utc
DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)
POLICY = {"due_at": "2025-02-13T23:59:00", "late": {"penalty_percent": 10, "per": "hour", "last_accepted": "2d"}}
COURSE = """
timezone: UTC
components:
  - {id: theory, title: Theory exam, weight: 40, source: staff}
  - {id: digits, title: Digits homework, weight: 60, source: {assignment: digits-mlp}}
"""


@pytest.fixture(params=KINDS)
def database_url(request, tmp_path):
    """Every test here on a fresh migrated SQLite and PostgreSQL database."""
    with migrated_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def rubrics_dir(tmp_path: Path) -> Path:
    """A course file of this test's own (theory 40%, digits-mlp 60%), and the real digits-mlp rubric."""
    folder = tmp_path / "rubrics"
    folder.mkdir()
    (folder / "course.yaml").write_text(textwrap.dedent(COURSE))
    real = Path(__file__).resolve().parents[2] / "rubrics" / "digits-mlp.yaml"
    (folder / "digits-mlp.yaml").write_text(real.read_text())
    return folder


@pytest.fixture
def settings(tmp_path: Path, database_url: str, rubrics_dir: Path):
    return web_settings(tmp_path, database_url, GRADER_RUBRICS_DIR=str(rubrics_dir))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_policy(app) -> None:
    with transaction(app.extensions["grader.sessions"]) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        row.policy, row.due_at = POLICY, DUE


def scored(app, user_id: int, at: dt.datetime, score: float) -> int:
    return add_submission(app, user_id, State.SCORED, created_at=at, score=score, max_score=10.0, outcome="ok")


def staff_score(app, user_id: int, component: str, score: float, by: int) -> None:
    with transaction(app.extensions["grader.sessions"]) as session:
        session.add(StaffScore(user_id=user_id, component=component, score=score, entered_by_id=by))


def text_of(response) -> str:
    """The page's text without tags, whitespace collapsed: what a reader sees."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def test_grades_me_says_what_is_missing_until_every_component_is_in(app, client, accounts):
    token = accounts.token("ada@example.org")
    ta = accounts.add("ta@example.org", Role.TA)
    ada_id = _user_id(app, "ada@example.org")
    scored(app, ada_id, dt.datetime.now(UTC), 8.0)  # no policy: no deadline, counts as it is

    body = client.get("/api/v1/grades/me", headers=bearer(token)).get_json()
    components = {c["id"]: c for c in body["components"]}
    assert set(components) == {"theory", "digits"}
    assert components["theory"]["score"] is None
    assert components["theory"]["weight"] == 40 and components["theory"]["source"] == "entered by staff"
    assert components["digits"]["score"] == 80.0 and components["digits"]["weight"] == 60
    assert body["final"] is None and body["missing"] == ["theory"]
    assert body["provisional"] == 48.0  # 0.6 x 80, theory counting 0 until it is in

    staff_score(app, ada_id, "theory", 50.0, ta)
    body = client.get("/api/v1/grades/me", headers=bearer(token)).get_json()
    assert body["final"] == 68.0 and body["missing"] == []  # 0.4 x 50 + 0.6 x 80: the weights of this file
    assert body["assignments"][0]["final"]["value"] == 8.0


def _user_id(app, email: str) -> int:
    from grader.services.accounts import find_user

    with transaction(app.extensions["grader.sessions"]) as session:
        return find_user(session, email).id


def test_grades_me_needs_a_token_and_shows_only_the_callers_grades(app, client, accounts):
    assert client.get("/api/v1/grades/me").status_code == 401
    ada = accounts.token("ada@example.org")
    accounts.token("bob@example.org")
    staff_score(app, _user_id(app, "bob@example.org"), "theory", 99.0, _user_id(app, "bob@example.org"))
    body = client.get("/api/v1/grades/me", headers=bearer(ada)).get_json()
    assert next(c for c in body["components"] if c["id"] == "theory")["score"] is None


def test_a_broken_course_file_answers_503_with_a_safe_message(app, client, accounts, rubrics_dir):
    token = accounts.token("ada@example.org")
    (rubrics_dir / "course.yaml").write_text("components:\n  - {id: theory, title: T, weight: 50, source: staff}\n")
    response = client.get("/api/v1/grades/me", headers=bearer(token))
    assert response.status_code == 503
    assert "staff must fix" in response.get_json()["error"] and "rubrics" not in response.get_json()["error"]


def test_the_grades_page_explains_late_penalty_extension_and_override(app, client, accounts, auth):
    set_policy(app)
    ada = accounts.add("ada@example.org")
    bob = accounts.add("bob@example.org")
    ta = accounts.add("ta@example.org", Role.TA)
    with transaction(app.extensions["grader.sessions"]) as session:
        extended = DUE + dt.timedelta(days=2)
        session.add(Extension(assignment_id=1, user_id=bob, due_at=extended, reason="illness", granted_by_id=ta))
    scored(app, ada, DUE + dt.timedelta(minutes=90), 9.0)  # 2 started hours late: -20%
    bob_sub = scored(app, bob, DUE + dt.timedelta(days=1), 5.0)
    with transaction(app.extensions["grader.sessions"]) as session:
        session.add(Override(submission_id=bob_sub, by_id=ta, points_before=5.0, points_after=7.5, reason="regrade"))

    auth.login("ada@example.org")
    page = text_of(client.get("/grades"))
    assert "submitted 1 h 30 min after the due date of 13 Feb 2025 23:59 UTC: 10% per started hour → −20%" in page
    assert "Final 7.2 / 10 (72%)" in page
    assert "no extension" in page and "no override" in page
    assert "Still missing: Theory exam" in page
    auth.logout()

    auth.login("bob@example.org")
    page = text_of(client.get("/grades"))
    assert "extended to 15 Feb 2025 23:59 UTC by ta@example.org: illness" in page
    assert "set to 7.5 by ta@example.org: regrade" in page
    assert "7.5 out of 10, set by override; it replaces 5" in page
    assert "submitted by your extended due date" in page


def test_students_see_only_their_own_page_and_staff_see_anyones(app, client, accounts, auth):
    ada = accounts.add("ada@example.org")
    accounts.add("bob@example.org")
    accounts.add("ta@example.org", Role.TA)
    assert client.get("/grades").status_code == 302  # anonymous: to the login page
    auth.login("bob@example.org")
    assert client.get(f"/staff/students/{ada}/grades").status_code == 403
    auth.logout()
    auth.login("ta@example.org")
    response = client.get(f"/staff/students/{ada}/grades")
    assert response.status_code == 200 and "Grades of ada@example.org" in text_of(response)
    assert client.get("/staff/students/9999/grades").status_code == 404


def form_for(client, component: str) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, f"/staff/scores?component={component}")}


def stored_scores(app, component: str) -> dict[int, float]:
    with transaction(app.extensions["grader.sessions"]) as session:
        rows = session.scalars(select(StaffScore).where(StaffScore.component == component))
        return {row.user_id: row.score for row in rows}


def test_staff_enter_scores_in_the_form_and_a_bad_field_saves_nothing(app, client, accounts, auth):
    ada = accounts.add("ada@example.org")
    bob = accounts.add("bob@example.org")
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    page = client.get("/staff/scores?component=theory")
    assert page.status_code == 200 and f'name="score-{ada}"' in page.get_data(as_text=True)

    fields = {f"score-{ada}": "75", f"score-{bob}": "101"}
    bad = client.post("/staff/scores/theory", data={**form_for(client, "theory"), **fields})
    assert bad.status_code == 400
    assert "101 is out of range; scores go from 0 to 100" in text_of(bad)
    assert stored_scores(app, "theory") == {}

    fields = {f"score-{ada}": "75", f"score-{bob}": "60,5"}
    good = client.post("/staff/scores/theory", data={**form_for(client, "theory"), **fields})
    assert good.status_code == 302
    assert stored_scores(app, "theory") == {ada: 75.0, bob: 60.5}
    client.post("/staff/scores/theory", data={**form_for(client, "theory"), f"score-{ada}": "80", f"score-{bob}": ""})
    assert stored_scores(app, "theory") == {ada: 80.0}  # a blank field removes the score


def test_staff_import_a_sheet_in_the_form_all_or_nothing(app, client, accounts, auth):
    ada = accounts.add("ada@example.org")
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")

    def upload(text: str):
        data = {**form_for(client, "theory"), "file": (io.BytesIO(text.encode()), "theory.csv")}
        return client.post("/staff/scores/theory/import", data=data, content_type="multipart/form-data")

    bad = upload("email,score\nada@example.org,70\nnobody@example.org,50\n")
    assert bad.status_code == 400
    assert "line 3: no student has the email nobody@example.org" in text_of(bad)
    assert stored_scores(app, "theory") == {}
    assert upload("email,score\nADA@example.org,70\n").status_code == 302
    assert stored_scores(app, "theory") == {ada: 70.0}


def test_an_unknown_component_in_the_form_is_refused(app, client, accounts, auth):
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    response = client.post("/staff/scores/homework", data=form_for(client, "theory"), follow_redirects=True)
    assert "'homework' is not a component whose scores staff enter; those are: theory" in text_of(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/staff/scores"),
        ("post", "/staff/scores/theory"),
        ("post", "/staff/scores/theory/import"),
        ("get", "/staff/students/1/grades"),
        ("get", "/staff/gradebook"),
        ("get", "/staff/gradebook.csv"),
    ],
)
def test_every_staff_action_refuses_students_and_sends_anonymous_users_to_log_in(
    app, client, accounts, auth, method, path
):
    anonymous = getattr(client, method)(path, data={"csrf_token": csrf_token(client)} if method == "post" else None)
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    data = {"csrf_token": csrf_token(client, "/")} if method == "post" else None
    assert getattr(client, method)(path, data=data).status_code == 403
    assert stored_scores(app, "theory") == {}
