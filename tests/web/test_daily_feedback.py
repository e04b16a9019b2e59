"""The daily feedback limit, one rule everywhere (issue 11, item 3).

Uploads go through the real upload path (the API), results are written as a
worker leaves them, and what the student reads is checked in every place a
score shows: the submission (page and API), the submissions list, /grades and
/api/v1/grades/me. Scores are chosen so each one, and what it turns into (its
percent, its points of the course total), is a distinctive string.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select, update

from grader.db import transaction
from grader.models import Assignment, Extension, Role, State, Submission, User
from grader.report import format_report
from tests.web.conftest import csrf_token, web_settings

UTC = dt.timezone.utc
FUTURE = "2099-01-01T12:00:00"
SEEN, HIDDEN = 9.25, 3.75  # HIDDEN is 37.5% of digits-mlp, 22.5 points of the course total (60% weight)
HIDDEN_TRACES = ("3.75", "37.5", "22.5")
COURSE = """
timezone: UTC
components:
  - {id: theory, title: Theory exam, weight: 40, source: staff}
  - {id: digits, title: Digits homework, weight: 60, source: {assignment: digits-mlp}}
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str):
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "course.yaml").write_text(textwrap.dedent(COURSE))
    return web_settings(tmp_path, database_url, GRADER_RUBRICS_DIR=str(rubrics))


def set_policy(app, **policy) -> None:
    with transaction(app.extensions["grader.sessions"]) as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        row.policy = {"due_at": FUTURE, **policy}
        row.due_at = dt.datetime.fromisoformat(row.policy["due_at"]).replace(tzinfo=UTC)


def upload(client, token: str) -> int:
    """Upload through the API, as `grader submit` does; return the new submission's id."""
    data = {"assignment": "digits-mlp", "file": (io.BytesIO(b"def build_model(d, k):\n    pass\n"), "model.py")}
    response = client.post("/api/v1/submissions", data=data, headers=bearer(token))
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]


def finish(app, submission_id: int, score: float | None, state: State = State.SCORED) -> None:
    """Write the row as a worker leaves it: a score, or an error on our side (score None)."""
    result = None
    if score is not None:
        criterion = {"id": "acc", "title": "Accuracy", "points": score, "max_points": 10.0, "feedback": "Measured."}
        result = {"status": state.value, "outcome": "ok", "score": score, "max_score": 10.0, "criteria": [criterion]}
        result |= {"metrics": {"accuracy": score / 10}, "log": f"accuracy {score / 10}\n", "student_message": "Done."}
    values = {"state": state, "score": score, "max_score": 10.0, "result": result, "finished_at": dt.datetime.now(UTC)}
    values["outcome"] = "ok" if score is not None else "sandbox_error"
    with transaction(app.extensions["grader.sessions"]) as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def level_of(app, submission_id: int) -> str | None:
    with transaction(app.extensions["grader.sessions"]) as session:
        return session.get_one(Submission, submission_id).feedback


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def student(app, client, accounts, auth) -> tuple[str, int]:
    """Ada, with an API token and logged in on the site; return her token and id."""
    token = accounts.token("ada@example.org")
    auth.login("ada@example.org")
    with transaction(app.extensions["grader.sessions"]) as session:
        return token, session.scalars(select(User.id).where(User.email == "ada@example.org")).one()


def seen_then_hidden(app, client, token: str) -> tuple[int, int]:
    """Two uploads on one day, scored SEEN then HIDDEN (under a limit of one, the second is hidden); their ids."""
    first = upload(client, token)
    finish(app, first, SEEN)
    second = upload(client, token)
    finish(app, second, HIDDEN)
    return first, second


def staff_rerun(app, client, submission_id: int) -> int:
    """Re-run the submission from its staff page (a member of staff is logged in); return the re-run's id."""
    client.post(f"/staff/submissions/{submission_id}/rerun", data={"csrf_token": csrf_token(client, "/")})
    with transaction(app.extensions["grader.sessions"]) as session:
        return session.scalars(select(Submission).where(Submission.rerun_of_id == submission_id)).one().id


def everything_ada_reads(client, token: str, submission_ids: list[int]) -> dict[str, str]:
    """Every place a score of Ada's can show, as text."""
    pages = {
        f"api /submissions/{sid}": json.dumps(
            client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
        )
        for sid in submission_ids
    }
    pages |= {
        f"page /submissions/{sid}": client.get(f"/submissions/{sid}").get_data(as_text=True) for sid in submission_ids
    }
    pages["page /submissions"] = client.get("/submissions").get_data(as_text=True)
    pages["page /grades"] = client.get("/grades").get_data(as_text=True)
    pages["api /grades/me"] = json.dumps(client.get("/api/v1/grades/me", headers=bearer(token)).get_json())
    return pages


def text_of(page: str) -> str:
    """The page's text without tags, whitespace collapsed: what a reader sees."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def leaks(pages: dict[str, str]) -> list[str]:
    return [f"{trace} in {where}" for where, text in pages.items() for trace in HIDDEN_TRACES if trace in text]


def test_counts_last_with_a_limit_of_one_no_place_shows_the_hidden_score(app, client, accounts, auth):
    set_policy(app, counts="last", daily_limit=1)
    token, ada = student(app, client, accounts, auth)
    first, second = seen_then_hidden(app, client, token)
    assert (level_of(app, first), level_of(app, second)) == ("full", "status")

    pages = everything_ada_reads(client, token, [first, second])
    assert leaks(pages) == []
    assert "9.25" in pages[f"api /submissions/{first}"]
    me = client.get("/api/v1/grades/me", headers=bearer(token)).get_json()
    (digits,) = me["assignments"]
    assert digits["final"]["value"] is None and digits["percent"] is None and digits["submission_id"] is None
    assert digits["hidden"] == {"until": "2099-01-01T12:00:00+00:00", "message": "hidden until 1 Jan 2099 12:00 UTC"}
    assert (me["final"], me["provisional"]) == (None, None)
    assert me["hidden"]["message"] == "hidden until 1 Jan 2099 12:00 UTC"
    assert [c["score"] for c in me["components"]] == [None, None]  # theory: not entered yet; digits: hidden
    assert "Final: hidden until 1 Jan 2099 12:00 UTC" in text_of(pages["page /grades"])

    report = format_report(client.get(f"/api/v1/submissions/{second}", headers=bearer(token)).get_json(), "digits")
    assert "status: scored (ok)   score hidden until 1 Jan 2099 12:00 UTC" in report  # what `grader submit` prints

    auth.logout()
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    staff_page = client.get(f"/staff/students/{ada}/grades").get_data(as_text=True)
    assert "3.75" in staff_page and "The student sees this grade as hidden until 1 Jan 2099 12:00 UTC" in staff_page


def test_counts_best_hides_the_grade_while_any_graded_submission_is_hidden(app, client, accounts, auth):
    set_policy(app, counts="best", daily_limit=1)
    token, _ = student(app, client, accounts, auth)
    first, second = seen_then_hidden(app, client, token)
    me = client.get("/api/v1/grades/me", headers=bearer(token)).get_json()
    # #1 counts, but a grade of 9.25 "the best of your 2" would say the hidden one scored less.
    assert me["assignments"][0]["final"]["value"] is None and me["assignments"][0]["hidden"] is not None
    assert leaks(everything_ada_reads(client, token, [first, second])) == []


def test_a_limit_set_mid_day_leaves_the_scores_already_seen_visible(app, client, accounts, auth):
    set_policy(app, counts="last")  # no daily limit yet
    token, _ = student(app, client, accounts, auth)
    first, second = seen_then_hidden(app, client, token)
    assert client.get(f"/api/v1/submissions/{second}", headers=bearer(token)).get_json()["score"] == HIDDEN  # seen

    set_policy(app, counts="last", daily_limit=1)
    body = client.get(f"/api/v1/submissions/{second}", headers=bearer(token)).get_json()
    assert body["score"] == HIDDEN and body["feedback"]["level"] == "full"
    assert "scored: 3.75 / 10" in client.get(f"/submissions/{second}").get_data(as_text=True)
    me = client.get("/api/v1/grades/me", headers=bearer(token)).get_json()
    assert me["assignments"][0]["final"]["value"] == HIDDEN and me["hidden"] is None
    third = upload(client, token)  # the new limit applies to new uploads: today's 2 used it up
    assert level_of(app, third) == "status"


def test_a_staff_rerun_keeps_its_uploads_level_and_uses_no_quota(app, client, accounts, auth):
    set_policy(app, counts="last", daily_limit=1)
    token, _ = student(app, client, accounts, auth)
    broken = upload(client, token)
    finish(app, broken, None, State.ERROR)  # our fault: the quota comes back
    seen = upload(client, token)
    assert level_of(app, seen) == "full"
    finish(app, seen, HIDDEN)  # (seen by the student: a distinctive number that must stay visible)

    auth.logout()
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    rerun = staff_rerun(app, client, broken)
    finish(app, rerun, SEEN)
    assert level_of(app, rerun) == "full"  # the upload's level

    auth.logout()
    auth.login("ada@example.org")
    body = client.get(f"/api/v1/submissions/{seen}", headers=bearer(token)).get_json()
    assert body["score"] == HIDDEN and body["feedback"]["level"] == "full"  # the re-run hid nothing
    assert client.get(f"/api/v1/submissions/{rerun}", headers=bearer(token)).get_json()["score"] == SEEN
    over = upload(client, token)
    assert level_of(app, over) == "status"  # the day's one full upload was #seen; the re-run took no quota
    finish(app, over, 5.5)

    auth.logout()
    auth.login("ta@example.org")
    hidden_rerun = staff_rerun(app, client, over)
    finish(app, hidden_rerun, 6.5)
    assert level_of(app, hidden_rerun) == "status"  # a re-run of a hidden upload reveals nothing either
    auth.logout()
    auth.login("ada@example.org")
    assert client.get(f"/api/v1/submissions/{hidden_rerun}", headers=bearer(token)).get_json()["score"] is None


def test_a_hidden_score_shows_once_the_assignment_closes_for_the_student(app, client, accounts, auth):
    set_policy(app, counts="last", daily_limit=1)
    token, ada = student(app, client, accounts, auth)
    first, second = seen_then_hidden(app, client, token)
    # Time passes: both were uploaded three hours ago, and the due date (no late work) was two hours ago.
    ta = accounts.add("ta@example.org", Role.TA)
    now = dt.datetime.now(UTC)
    tomorrow = (now + dt.timedelta(days=1)).replace(microsecond=0)
    with transaction(app.extensions["grader.sessions"]) as session:
        session.execute(update(Submission).values(created_at=now - dt.timedelta(hours=3)))
        digits = session.scalars(select(Assignment.id).where(Assignment.slug == "digits-mlp")).one()
        session.add(Extension(assignment_id=digits, user_id=ada, due_at=tomorrow, reason="ill", granted_by_id=ta))
    set_policy(app, counts="last", daily_limit=1, due_at=(now - dt.timedelta(hours=2)).replace(tzinfo=None).isoformat())

    body = client.get(f"/api/v1/submissions/{second}", headers=bearer(token)).get_json()
    assert body["score"] is None  # her extension keeps the assignment open for her: still hidden
    assert body["feedback"]["hidden_until"] == tomorrow.isoformat()
    assert leaks(everything_ada_reads(client, token, [first, second])) == []

    with transaction(app.extensions["grader.sessions"]) as session:
        session.execute(Extension.__table__.delete())
    body = client.get(f"/api/v1/submissions/{second}", headers=bearer(token)).get_json()
    assert body["score"] == HIDDEN and body["feedback"]["level"] == "full"
    assert "shows now that the assignment has closed for you" in body["feedback"]["message"]
    me = client.get("/api/v1/grades/me", headers=bearer(token)).get_json()
    assert me["assignments"][0]["final"]["value"] == HIDDEN and me["assignments"][0]["hidden"] is None
    assert "3.75" in client.get("/grades").get_data(as_text=True)
