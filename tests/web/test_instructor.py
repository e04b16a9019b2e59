"""Instructor pages: only instructors; errors in place; rubric preview and save; settings; extensions; zips."""

from __future__ import annotations

import copy
import io
import re
import zipfile

import pytest
from sqlalchemy import select

from grader.config import PROJECT_ROOT
from grader.core.grading import Evaluation, grade
from grader.core.kinds.classification import CLASSIFICATION
from grader.core.outcomes import Outcome
from grader.db import transaction
from grader.models import Assignment, Extension, Role, RubricRevision, State, Submission
from grader.services.rubrics import parse_rubric_text
from tests.web.conftest import csrf_token
from tests.web.helpers import add_submission

RUBRIC = (PROJECT_ROOT / "rubrics" / "digits-mlp.yaml").read_text()
REFERENCES = {
    "keras": {"accuracy": 0.97, "macro_f1": 0.97, "parameters": 10000},
    "torch": {"accuracy": 0.96, "macro_f1": 0.96, "parameters": 10000},
}

# Every instructor action: (method, path). Each must refuse students and TAs and send anonymous users to log in.
ACTIONS = [
    ("get", "/staff/assignments/"),
    ("post", "/staff/assignments/upload"),
    ("post", "/staff/assignments/digits-mlp/publish"),
    ("get", "/staff/assignments/digits-mlp/settings"),
    ("post", "/staff/assignments/digits-mlp/settings"),
    ("post", "/staff/assignments/digits-mlp/extensions"),
    ("post", "/staff/assignments/digits-mlp/extensions/1/revoke"),
    ("get", "/staff/assignments/digits-mlp/rubric"),
    ("post", "/staff/assignments/digits-mlp/rubric"),
]


def sessions_of(app):
    return app.extensions["grader.sessions"]


def assignment(app) -> Assignment:
    with sessions_of(app)() as session:
        return session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()


def post(client, path, data=None, **kwargs):
    """Post a form the way the browser does, with the page's CSRF token."""
    data = {"csrf_token": csrf_token(client, "/"), **(data or {})}
    return client.post(path, data=data, **kwargs)


@pytest.fixture
def instructor(accounts, auth):
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")


@pytest.mark.parametrize("method,path", ACTIONS)
@pytest.mark.parametrize("role", [Role.STUDENT, Role.TA])
def test_students_and_tas_are_refused(client, accounts, auth, method, path, role):
    accounts.add("who@example.org", role)
    auth.login("who@example.org")
    response = post(client, path) if method == "post" else client.get(path)
    assert response.status_code == 403


@pytest.mark.parametrize("method,path", ACTIONS)
def test_anonymous_users_are_sent_to_log_in(app, method, path):
    client = app.test_client()
    if method == "post":  # CSRF is checked first: take a token from the login page, as a browser would
        response = client.post(path, data={"csrf_token": csrf_token(client)})
    else:
        response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_ta_sees_no_manage_link_and_an_instructor_does(client, accounts, auth):
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    assert "Manage assignments" not in client.get("/").get_data(as_text=True)
    auth.logout()
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")
    assert "Manage assignments" in client.get("/").get_data(as_text=True)


def test_settings_save_mirror_and_show_errors_in_place(app, client, instructor):
    form = {
        "published": "on",
        "opens_at": "2025-01-20T09:00",
        "due_at": "2025-02-13T23:59",
        "counts": "last",
        "daily_limit": "5",
        "late.penalty_percent": "10",
        "late.per": "day",
        "late.grace": "15m",
        "late.last_accepted": "2d",
    }
    response = post(client, "/staff/assignments/digits-mlp/settings", form)
    assert response.status_code == 302
    row = assignment(app)
    assert row.policy["counts"] == "last" and row.policy["late"]["penalty_percent"] == 10
    assert row.due_at.strftime("%Y-%m-%d %H:%M") == "2025-02-13 23:59" and row.published
    page = client.get("/staff/assignments/digits-mlp/settings").get_data(as_text=True)
    assert 'value="2025-02-13T23:59"' in page and "10% of their score per started day" in page

    bad = {**form, "late.grace": "a while", "due_at": "2025-02-13T23:59"}
    response = post(client, "/staff/assignments/digits-mlp/settings", bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="e-late.grace" role="alert">expected a duration like', page)
    assert 'value="a while"' in page  # what was typed stays in the form
    assert assignment(app).policy["late"]["grace"] == "15m"  # nothing saved

    before_opening = {**form, "opens_at": "2025-03-01T00:00"}
    page = post(client, "/staff/assignments/digits-mlp/settings", before_opening).get_data(as_text=True)
    assert re.search(r'id="e-opens_at" role="alert">[^<]*is not before due_at', page)


def test_publish_and_hide(app, client, instructor):
    assert post(client, "/staff/assignments/digits-mlp/publish", {"published": "0"}).status_code == 302
    assert not assignment(app).published
    page = client.get("/staff/assignments/").get_data(as_text=True)
    assert re.search(r'id="row-digits-mlp">.*?<td class="state">hidden', page, re.S)
    post(client, "/staff/assignments/digits-mlp/publish", {"published": "1"})
    assert assignment(app).published


def test_extensions_are_granted_changed_and_withdrawn(app, client, accounts, instructor):
    accounts.add("ada@example.org")
    post(client, "/staff/assignments/digits-mlp/settings", {"published": "on", "due_at": "2025-02-13T23:59"})
    page = post(
        client,
        "/staff/assignments/digits-mlp/extensions",
        {"email": "nobody@example.org", "due_at": "x", "reason": "r"},
    ).get_data(as_text=True)
    assert re.search(r'id="xe-email" role="alert">no account with the email', page)
    page = post(
        client,
        "/staff/assignments/digits-mlp/extensions",
        {"email": "ada@example.org", "due_at": "2025-02-10T23:59", "reason": "ill"},
    ).get_data(as_text=True)
    assert re.search(r'id="xe-due_at" role="alert">[^<]*is not after the assignment(&#39;|\')s due date', page)
    for due in ("2025-02-20T23:59", "2025-02-21T23:59"):  # granted, then changed: still one row
        response = post(
            client,
            "/staff/assignments/digits-mlp/extensions",
            {"email": "ada@example.org", "due_at": due, "reason": "medical certificate"},
        )
        assert response.status_code == 302
    with sessions_of(app)() as session:
        [row] = session.scalars(select(Extension)).all()
        assert (
            row.due_at.day == 21 and row.reason == "medical certificate" and row.granted_by.email == "prof@example.org"
        )
    assert "medical certificate" in client.get("/staff/assignments/digits-mlp/settings").get_data(as_text=True)
    post(client, f"/staff/assignments/digits-mlp/extensions/{row.id}/revoke")
    with sessions_of(app)() as session:
        assert session.scalars(select(Extension)).all() == []


def scored_with(app, user_id, accuracy) -> int:
    """A submission scored by the file's rubric, as a worker stores it."""
    evaluation = Evaluation(
        Outcome.OK, {"accuracy": accuracy, "macro_f1": accuracy, "parameters": 20000}, "ok", "", "", {}, {}
    )
    rubric = parse_rubric_text(RUBRIC, "digits-mlp", "rubric", CLASSIFICATION.metrics)
    result = grade(evaluation, rubric, REFERENCES)
    return add_submission(
        app,
        user_id,
        State.SCORED,
        evaluation=evaluation.to_json(),
        result=result.to_json(),
        outcome="ok",
        score=result.score,
        max_score=result.max_score,
    )


def test_rubric_preview_shows_errors_in_place_then_score_changes_then_save_rescores(app, client, accounts, instructor):
    ada, bob = accounts.add("ada@example.org"), accounts.add("bob@example.org")
    with transaction(sessions_of(app)) as session:
        session.scalars(select(Assignment)).one().references = copy.deepcopy(REFERENCES)
    first, second = scored_with(app, ada, 0.96), scored_with(app, bob, 0.90)
    page = client.get("/staff/assignments/digits-mlp/rubric").get_data(as_text=True)
    assert "full_at: {relative_to: best, ratio: 0.98}" in page  # the file's rubric is in force

    broken = RUBRIC.replace("    points: 10\n    policy: bands", "    points: lots\n    policy: bands")
    response = post(client, "/staff/assignments/digits-mlp/rubric", {"yaml": broken, "action": "preview"})
    page = response.get_data(as_text=True)
    bad_line = broken.splitlines().index("    points: lots") + 1
    assert response.status_code == 400
    assert f"Line {bad_line}, <code>criteria[3].points</code>: expected a number" in page
    assert re.search(rf'<span class="error" id="bad-line">\s*{bad_line}  +points: lots +◀ expected', page)

    not_yaml = RUBRIC + "  - [unclosed\n"
    page = post(client, "/staff/assignments/digits-mlp/rubric", {"yaml": not_yaml, "action": "preview"}).get_data(
        as_text=True
    )
    assert "not valid YAML: line" in page

    # macro F1 0.96 and 0.90: each falls one band, 3 points less each
    stricter = RUBRIC.replace("{at_least: 0.95, points: 10}", "{at_least: 0.97, points: 10}").replace(
        "{at_least: 0.90, points: 7}", "{at_least: 0.91, points: 7}"
    )
    page = post(client, "/staff/assignments/digits-mlp/rubric", {"yaml": stricter, "action": "preview"}).get_data(
        as_text=True
    )
    assert "2 graded submissions: 0 go up, 2 go down, 0 unchanged; mean change -3.00 points" in page
    assert "Preview: nothing is saved yet" in page
    with sessions_of(app)() as session:
        assert session.scalars(select(RubricRevision)).all() == []
        before = {s.id: s.score for s in session.scalars(select(Submission))}

    response = post(client, "/staff/assignments/digits-mlp/rubric", {"yaml": stricter, "action": "save"})
    assert response.status_code == 302
    page = client.get("/staff/assignments/digits-mlp/rubric").get_data(as_text=True)
    assert "2 stored results rescored, 2 changed" in page and "{at_least: 0.97, points: 10}" in page
    fresh = parse_rubric_text(stricter, "digits-mlp", "rubric", CLASSIFICATION.metrics)
    with sessions_of(app)() as session:
        for sid in (first, second):
            row = session.get(Submission, sid)
            again = grade(Evaluation.from_json(row.evaluation), fresh, REFERENCES)
            assert row.score == again.score == pytest.approx(before[sid] - 3)
            assert row.result == again.to_json()


def test_the_rubric_editor_accepts_only_the_metrics_of_the_assignments_kind(app, client, instructor):
    other_kind = RUBRIC.replace("metric: macro_f1", "metric: perplexity")
    response = post(client, "/staff/assignments/digits-mlp/rubric", {"yaml": other_kind, "action": "preview"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert (
        "<code>criteria[3].metric</code>: expected one of accuracy, macro_f1, train_accuracy, generalization_gap, "
        "parameters, got &#34;perplexity&#34;" in page
    )
    with sessions_of(app)() as session:
        assert session.scalars(select(RubricRevision)).all() == []


def test_a_relative_rubric_without_known_references_says_how_to_get_them(app, client, accounts, instructor):
    scored_with(app, accounts.add("ada@example.org"), 0.96)
    page = post(client, "/staff/assignments/digits-mlp/rubric", {"yaml": RUBRIC, "action": "preview"}).get_data(
        as_text=True
    )
    assert "need the keras and torch reference results, which are not known yet" in page
    assert "grader references build digits-mlp" in page


def assignment_zip(slug="digits-two", drop=(), rubric=None, extra=None) -> bytes:
    folder = PROJECT_ROOT / "assignments" / "digits-mlp"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            if path.is_file() and path.name not in drop:  # not a __pycache__ a bench left
                archive.writestr(f"{slug}/{path.name}", path.read_bytes())
        archive.writestr(f"{slug}/rubric.yaml", rubric or RUBRIC.replace("digits-mlp", slug))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(client, data, replace=False):
    form = {"file": (io.BytesIO(data), "digits-two.zip")}
    if replace:
        form["replace"] = "on"
    return post(client, "/staff/assignments/upload", form, content_type="multipart/form-data")


def test_an_assignment_zip_is_installed_hidden_and_bad_ones_are_named(app, client, instructor, settings):
    page = upload(client, assignment_zip(drop=("starter.py",))).get_data(as_text=True)
    assert "digits-two.zip: digits-two/starter.py: missing" in page
    page = upload(client, assignment_zip(rubric="assignment: digits-two\ncriteria: [\n")).get_data(as_text=True)
    assert "digits-two.zip: digits-two/rubric.yaml: not valid YAML: line 3" in page
    page = upload(client, assignment_zip(extra={"digits-two/../../evil.py": "x"})).get_data(as_text=True)
    assert "points outside the archive" in page
    assert not (settings.data_dir / "assignments" / "digits-two").exists()

    response = upload(client, assignment_zip())
    assert response.status_code == 302
    with sessions_of(app)() as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-two")).one()
        assert not row.published and row.title
    assert (settings.data_dir / "assignments" / "digits-two" / "rubric.yaml").is_file()
    assert "was uploaded before; tick" in upload(client, assignment_zip()).get_data(as_text=True)
    assert upload(client, assignment_zip(), replace=True).status_code == 302
    assert "at_most: 50000" in client.get("/staff/assignments/digits-two/rubric").get_data(as_text=True)
