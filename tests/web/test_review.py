"""The TA's side: search, the grading log, overrides with their audit trail, re-runs, and who may do each."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Override, Role, State, Submission
from tests.web.conftest import csrf_token
from tests.web.helpers import SCORED_RESULT, add_scored, add_submission

TIMEOUT_RESULT = {
    **SCORED_RESULT,
    "status": "failed",
    "outcome": "timeout",
    "score": 0.0,
    "criteria": [],
    "metrics": {},
    "student_message": "Your code ran longer than the 300 s limit during training and was stopped.",
    "staff_detail": "termination=wall_limit exit_code=None signal=9 phase=train",
    "log": "epoch 1/500\n[grader] output truncated: 4096 bytes dropped\n",
    "resources": {"wall_s": 600.4, "cpu_s": 1180.2, "peak_memory_bytes": 3 * 1024**3, "tasks_refused": 17,
                  "start": "warm", "handover_s": 0.0123},
    "environment": {
        "framework": "torch",
        "versions": {"python": "3.11.2", "torch": "2.13.0"},
        "seeds": {"python": 0, "numpy": 0, "torch": 0},
        "data_sha256": "d" * 64,
        "submission_kind": "py",
        "gpu": {"device": "NVIDIA H100", "uuid": "GPU-1234", "peak_memory_bytes": 2 * 1024**3,
                "utilisation_max_percent": 97, "utilisation_mean_percent": 63.5},
    },
}  # fmt: skip


def _sessions(app):
    return app.extensions["grader.sessions"]


def _overrides(app, sid: int) -> list[tuple]:
    with _sessions(app)() as session:
        rows = session.scalars(select(Override).where(Override.submission_id == sid).order_by(Override.id))
        return [(r.points_before, r.points_after, r.reason, r.by.email) for r in rows]


def _post(client, path: str, data: dict | None = None, token_page: str = "/"):
    return client.post(path, data={"csrf_token": csrf_token(client, token_page), **(data or {})})


def _as(client, auth, accounts, email: str, role: Role = Role.TA) -> None:
    accounts.add(email, role)
    auth.login(email)


# Permissions: every TA action, for students, anonymous visitors and the API.


def _actions(sid: int) -> list[tuple[str, str, dict]]:
    return [
        ("GET", "/staff/submissions", {}),
        ("GET", f"/staff/submissions/{sid}", {}),
        ("POST", f"/staff/submissions/{sid}/override", {"points": "10", "reason": "because"}),
        ("POST", f"/staff/submissions/{sid}/override/withdraw", {"reason": "because"}),
        ("POST", f"/staff/submissions/{sid}/rerun", {}),
        ("POST", "/staff/submissions/rerun", {"ids": str(sid)}),
    ]


def test_students_get_403_for_every_review_action_and_nothing_changes(app, client, auth, accounts, queue):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "ada@example.org", Role.STUDENT)
    for method, path, data in _actions(sid):
        response = client.get(path) if method == "GET" else _post(client, path, data)
        assert response.status_code == 403, (method, path)
    assert _overrides(app, sid) == [] and queue.enqueued == []
    assert "/staff/submissions" not in client.get("/").get_data(as_text=True)  # no nav link either


def test_anonymous_visitors_are_sent_to_the_login_for_every_review_action(app, client, accounts, queue):
    sid = add_scored(app, accounts.add("bob@example.org"))
    for method, path, data in _actions(sid):
        response = client.get(path) if method == "GET" else _post(client, path, data, token_page="/auth/login")
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], (method, path)
    assert _overrides(app, sid) == [] and queue.enqueued == []


@pytest.mark.parametrize("role", [Role.TA, Role.INSTRUCTOR])
def test_tas_and_instructors_may_do_every_review_action(app, client, auth, accounts, queue, role):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "staff@example.org", role)
    for method, path, data in _actions(sid):
        response = client.get(path) if method == "GET" else _post(client, path, data)
        assert response.status_code in (200, 302), (method, path, response.status_code)
    assert [(b, a) for b, a, _, _ in _overrides(app, sid)] == [(8.5, 10.0), (10.0, None)]
    assert len(queue.enqueued) == 1  # the second re-run found the chain already waiting


def test_the_staff_api_answers_401_without_a_token_and_403_to_students(app, client, accounts, queue):
    sid = add_scored(app, accounts.add("bob@example.org"))
    student = {"Authorization": f"Bearer {accounts.token('ada@example.org')}"}
    calls = [
        ("GET", "/api/v1/staff/submissions", None),
        ("GET", f"/api/v1/staff/submissions/{sid}", None),
        ("POST", f"/api/v1/staff/submissions/{sid}/override", {"points": 10, "reason": "x"}),
        ("POST", f"/api/v1/staff/submissions/{sid}/override/withdraw", {"reason": "x"}),
        ("POST", f"/api/v1/staff/submissions/{sid}/rerun", None),
        ("POST", "/api/v1/staff/submissions/rerun", {"ids": [sid]}),
    ]
    for method, path, body in calls:
        for headers, status in (({}, 401), (student, 403)):
            response = client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == status and "error" in response.get_json(), (method, path, status)
    assert _overrides(app, sid) == [] and queue.enqueued == []


def test_the_staff_api_overrides_reruns_and_reads_the_log(app, client, accounts, queue):
    sid = add_scored(app, accounts.add("bob@example.org"))
    ta = {"Authorization": f"Bearer {accounts.token('ta@example.org', Role.TA)}"}
    refused = client.post(f"/api/v1/staff/submissions/{sid}/override", json={"points": 12, "reason": "x"}, headers=ta)
    assert refused.status_code == 400 and "from 0 to 10" in refused.get_json()["error"]
    missing = client.post("/api/v1/staff/submissions/99999/override", json={"points": 1, "reason": "x"}, headers=ta)
    assert missing.status_code == 404
    done = client.post(f"/api/v1/staff/submissions/{sid}/override", json={"points": 9, "reason": "Appeal"}, headers=ta)
    assert done.status_code == 201 and done.get_json()["points_before"] == 8.5
    log = client.get(f"/api/v1/staff/submissions/{sid}", headers=ta).get_json()
    assert log["score_in_force"] == 9 and log["audit"][0]["reason"] == "Appeal" and log["staff_detail"]
    asked = client.post(f"/api/v1/staff/submissions/{sid}/rerun", headers=ta)  # overridden: keep or withdraw?
    assert asked.status_code == 409 and asked.get_json()["field"] == "override_choice" and queue.enqueued == []
    assert asked.get_json()["overridden"][str(sid)]["reason"] == "Appeal"
    rerun = client.post(f"/api/v1/staff/submissions/{sid}/rerun", json={"override_choice": "keep"}, headers=ta)
    assert rerun.status_code == 202 and queue.enqueued == [(rerun.get_json()["queued"][str(sid)], True)]
    assert rerun.get_json()["kept"] == [sid]
    bad = client.post("/api/v1/staff/submissions/rerun", json={"ids": ["x"]}, headers=ta)
    assert bad.status_code == 400


# Overrides through the page.


def test_two_overrides_then_a_withdrawal_show_three_audit_rows_and_the_student_sees_what_is_in_force(
    app, client, auth, accounts
):
    sid = add_scored(app, accounts.add("bob@example.org", password="pw-bob-123"))
    accounts.add("ta@example.org", Role.TA)
    with transaction(_sessions(app)) as session:
        from grader.models import User

        session.scalars(select(User).where(User.email == "ta@example.org")).one().name = "Tess Assistant"
    auth.login("ta@example.org")
    page = f"/staff/submissions/{sid}"
    assert _post(client, f"{page}/override", {"points": "9", "reason": "Mislabelled test image"}).status_code == 302
    assert _post(client, f"{page}/override", {"points": "9.5", "reason": "Second look"}).status_code == 302
    assert _post(client, f"{page}/override/withdraw", {"reason": "Rubric fixed instead"}).status_code == 302
    assert _overrides(app, sid) == [
        (8.5, 9.0, "Mislabelled test image", "ta@example.org"),
        (9.0, 9.5, "Second look", "ta@example.org"),
        (9.5, None, "Rubric fixed instead", "ta@example.org"),
    ]
    html = client.get(page).get_data(as_text=True)
    audit = html[html.index('class="audit"') :]
    assert audit.count("<tr><td>") == 3 and "withdrawn" in audit and "Second look" in audit

    _post(client, f"{page}/override", {"points": "7", "reason": "Used test labels; see the email"})
    auth.logout()
    auth.login("bob@example.org", "pw-bob-123")
    student_page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "scored: 7 / 10 (changed by staff)" in student_page
    assert "Score set to 7 by Tess Assistant</strong>: " in student_page
    assert "Used test labels; see the email" in student_page
    assert "Rubric fixed instead" not in student_page  # the student sees the override in force, not the trail
    body = client.get(f"/submissions/{sid}/status.json").get_json()
    assert body["override"]["points"] == 7 and body["override"]["by"] == "Tess Assistant"
    assert body["override"]["reason"] == "Used test labels; see the email" and body["score"] == 8.5


@pytest.mark.parametrize("reason", ["", "    "])
def test_an_override_without_a_reason_is_refused_in_place_and_nothing_is_written(app, client, auth, accounts, reason):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "ta@example.org")
    response = _post(client, f"/staff/submissions/{sid}/override", {"points": "9", "reason": reason})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'role="alert">A reason is required: the student sees it next to the score.' in html
    assert 'name="points" value="9"' in html  # what was typed is kept
    assert _overrides(app, sid) == []


@pytest.mark.parametrize(
    ("points", "message"), [("10.5", "from 0 to 10"), ("-2", "from 0 to 10"), ("lots", "like 7.5; got &#39;lots&#39;")]
)
def test_points_out_of_range_are_refused_in_place(app, client, auth, accounts, points, message):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "ta@example.org")
    response = _post(client, f"/staff/submissions/{sid}/override", {"points": points, "reason": "r"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _overrides(app, sid) == []


def test_withdrawing_with_nothing_in_force_is_refused_in_place(app, client, auth, accounts):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "ta@example.org")
    response = _post(client, f"/staff/submissions/{sid}/override/withdraw", {"reason": "oops"})
    assert response.status_code == 400 and "no override in force to withdraw" in response.get_data(as_text=True)


def test_an_unknown_submission_answers_404(client, auth, accounts):
    _as(client, auth, accounts, "ta@example.org")
    assert client.get("/staff/submissions/424242").status_code == 404
    assert _post(client, "/staff/submissions/424242/override", {"points": "1", "reason": "r"}).status_code == 404


# Re-runs.


def test_a_rerun_creates_a_new_row_on_the_rerun_queue_and_keeps_the_old_result(app, client, auth, accounts, queue):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "ta@example.org")
    response = _post(client, f"/staff/submissions/{sid}/rerun")
    with _sessions(app)() as session:
        old, new = session.scalars(select(Submission).order_by(Submission.id)).all()
        assert (old.state, old.score, old.result) == (State.SCORED, 8.5, SCORED_RESULT)
        assert (new.state, new.rerun_of_id, new.created_at) == (State.QUEUED, sid, old.created_at)
    assert queue.enqueued == [(new.id, True)]
    assert response.headers["Location"].endswith(f"/staff/submissions/{new.id}")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Queued 1 re-run(s) at low priority" in html and "ta@example.org" in html  # asked by, in the chain table
    old_page = client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert f'A re-run, <a href="/staff/submissions/{new.id}">#{new.id}</a>, is not graded yet' in old_page
    assert "superseded" not in old_page and "Override the score" in old_page  # still the newest graded run
    assert "Override the score" not in client.get(f"/staff/submissions/{new.id}").get_data(as_text=True)


def test_the_newest_graded_run_takes_an_override_while_its_rerun_waits_and_it_counts_over_the_rerun(
    app, client, auth, accounts, queue
):
    sid = add_scored(app, accounts.add("bob@example.org"))
    _as(client, auth, accounts, "ta@example.org")
    _post(client, f"/staff/submissions/{sid}/rerun")
    ((new, _),) = queue.enqueued
    overridden = _post(client, f"/staff/submissions/{sid}/override", {"points": "7", "reason": "Late data fix."})
    assert overridden.status_code == 302, overridden.get_data(as_text=True)
    _finish(app, new, 1.25)
    old_page = client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert "superseded by a re-run" in old_page and "Override the score" not in old_page
    new_page = client.get(f"/staff/submissions/{new}").get_data(as_text=True)
    assert re.search(r'id="score-in-force">7 \(override by', new_page) and "Override the score" in new_page


def test_bulk_rerun_queues_each_ticked_chain_once_and_says_what_it_skipped(app, client, auth, accounts, queue):
    bob = accounts.add("bob@example.org")
    first, second = add_scored(app, bob), add_scored(app, bob)
    running = add_submission(app, bob, State.RUNNING)
    _as(client, auth, accounts, "ta@example.org")
    back = "/staff/submissions?assignment=digits-mlp"
    response = client.post(
        "/staff/submissions/rerun",
        data={"csrf_token": csrf_token(client, "/staff/submissions"), "ids": [first, second, running], "back": back},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(back)
    assert len(queue.enqueued) == 2 and all(rerun for _, rerun in queue.enqueued)
    html = client.get(back).get_data(as_text=True)
    assert "Queued 2 re-run(s)" in html and f"#{running}: already waiting for its first run" in html


# The grading log.


def test_the_grading_log_shows_outcome_limits_resources_environment_timings_and_output(app, client, auth, accounts):
    now = dt.datetime.now(dt.timezone.utc)
    sid = add_submission(
        app, accounts.add("bob@example.org"), State.FAILED, result=TIMEOUT_RESULT, outcome="timeout", score=0.0,
        max_score=10.0, attempts=2, worker="gpu-host:4242", queued_at=now - dt.timedelta(seconds=700),
        started_at=now - dt.timedelta(seconds=650), heartbeat_at=now, finished_at=now,
    )  # fmt: skip
    _as(client, auth, accounts, "ta@example.org")
    html = client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    for expected in (
        "timeout", "The run went over its time limit and was stopped.",
        "wall-clock time (limit 300 s)", "output (4096 bytes dropped, limit 256 KiB)",  # digits-mlp's limits
        "processes and threads (limit 512): 17 refused",
        "600.4 s", "1180.2 s", "3.00 GiB",
        "NVIDIA H100", "2.00 GiB", "max 97 %, mean 63.5 %",
        "torch 2.13.0", "python=0", "d" * 64, "gpu-host:4242",
        "<dt>Attempts</dt><dd>2</dd>", "after 50.0 s in the queue", "ran 650.0 s",
        "termination=wall_limit", "[grader] output truncated", "the student (upload)",
        "warm: framework imported ahead, handed over in 0.012 s", "limits and times count from the handover",
    ):  # fmt: skip
        assert expected in html, expected


def test_the_grading_log_says_a_run_was_cold(app, client, auth, accounts):
    cold = {**TIMEOUT_RESULT, "resources": {**TIMEOUT_RESULT["resources"], "start": "cold"}}
    cold["resources"].pop("handover_s")
    sid = add_submission(app, accounts.add("bob@example.org"), State.FAILED, result=cold, outcome="timeout")
    _as(client, auth, accounts, "ta@example.org")
    page = client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert "<dt>Sandbox</dt><dd>cold: started for this run</dd>" in page


# Search and filter.


@pytest.fixture
def population(app, accounts):
    """Submissions that differ in one thing each, and a re-run chain."""
    with transaction(_sessions(app)) as session:
        session.add(Assignment(slug="cnn", title="CNN", topic=3))
    ada = accounts.add("ada.lovelace@example.org")
    bob = accounts.add("bob@example.org")
    ids = {
        "ada_scored": add_scored(app, ada),
        "bob_scored": add_scored(app, bob),
        "bob_queued": add_submission(app, bob),
        "bob_timeout": add_submission(app, bob, State.FAILED, outcome="timeout", score=0.0, max_score=10.0),
    }
    with transaction(_sessions(app)) as session:
        cnn = session.scalars(select(Assignment).where(Assignment.slug == "cnn")).one()
        row = Submission(
            user_id=ada, assignment_id=cnn.id, filename="cnn.py", blob_sha256="1" * 64, size_bytes=5,
            state=State.SCORED, score=3.0, max_score=10.0, outcome="ok",
        )  # fmt: skip
        session.add(row)
        session.flush()
        ids["ada_cnn"] = row.id
        rerun = Submission(
            user_id=ada, assignment_id=cnn.id, filename="cnn.py", blob_sha256="1" * 64, size_bytes=5,
            state=State.SCORED, score=6.0, max_score=10.0, outcome="ok", rerun_of_id=row.id,
            created_at=row.created_at,
        )  # fmt: skip
        session.add(rerun)
        session.flush()
        ids["ada_cnn_rerun"] = rerun.id
    return ids


def _listed(client, query: str) -> set[int]:
    html = client.get(f"/staff/submissions?{query}").get_data(as_text=True)
    return {int(n) for n in re.findall(r'name="ids" value="(\d+)"', html)}


def test_each_search_filter_narrows_the_list(app, client, auth, accounts, population):
    p = population
    _as(client, auth, accounts, "ta@example.org")
    in_force = set(p.values()) - {p["ada_cnn"]}
    assert _listed(client, "") == in_force  # the superseded first run of a chain is hidden by default
    assert _listed(client, "history=1") == set(p.values())
    assert _listed(client, "assignment=cnn") == {p["ada_cnn_rerun"]}
    assert _listed(client, "state=queued") == {p["bob_queued"]}
    assert _listed(client, "outcome=timeout") == {p["bob_timeout"]}
    assert _listed(client, "student=LOVELACE") == {p["ada_scored"], p["ada_cnn_rerun"]}
    assert _listed(client, "student=%25") == set()  # a literal %, not a wildcard
    assert _listed(client, "min_score=5&max_score=8") == {p["ada_cnn_rerun"]}
    assert _listed(client, "min_score=8.5") == {p["ada_scored"], p["bob_scored"]}
    assert _listed(client, "max_score=0") == {p["bob_timeout"]}
    assert _listed(client, "student=bob&state=scored") == {p["bob_scored"]}


def test_the_score_filter_uses_the_override_in_force(app, client, auth, accounts, population):
    p = population
    _as(client, auth, accounts, "ta@example.org")
    _post(client, f"/staff/submissions/{p['bob_scored']}/override", {"points": "2", "reason": "Copied code"})
    assert _listed(client, "max_score=2.5") == {p["bob_scored"], p["bob_timeout"]}
    html = client.get("/staff/submissions?student=bob&state=scored").get_data(as_text=True)
    assert "2 / 10" in html and "override (rubric 8.5)" in html


def test_a_bad_filter_value_is_explained_in_place_and_ignored(app, client, auth, accounts, population):
    _as(client, auth, accounts, "ta@example.org")
    response = client.get("/staff/submissions?min_score=abc&state=lost")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "&#39;abc&#39; is not a number; write points like 7.5." in html
    assert "Unknown state &#39;lost&#39;" in html
    assert _listed(client, "min_score=abc") == set(population.values()) - {population["ada_cnn"]}


def test_the_list_is_paginated_newest_first(app, client, auth, accounts, monkeypatch):
    from grader.web import review

    monkeypatch.setattr(review, "PER_PAGE", 2)
    bob = accounts.add("bob@example.org")
    ids = [add_scored(app, bob) for _ in range(5)]
    _as(client, auth, accounts, "ta@example.org")
    first = client.get("/staff/submissions?student=bob").get_data(as_text=True)
    assert re.findall(r'name="ids" value="(\d+)"', first) == [str(ids[4]), str(ids[3])]
    assert "page 1 of 3" in first and "page=2" in first and "student=bob" in first
    assert _listed(client, "student=bob&page=3") == {ids[0]}


# An override across re-runs (issue 11 item 4): the scenario, at scale 10 (40 -> 4, 12.49 -> 1.25).

APPEAL = "Three test images were mislabelled; graded by hand."


def _overridden(app, client, auth, accounts) -> int:
    """Bob's scored upload (8.5), overridden to 4 by the TA Ada through the page; Ada stays logged in."""
    sid = add_scored(app, accounts.add("bob@example.org", password="pw-bob-123"))
    accounts.add("ta@example.org", Role.TA)
    with transaction(_sessions(app)) as session:
        from grader.models import User

        session.scalars(select(User).where(User.email == "ta@example.org")).one().name = "Ada"
    auth.login("ta@example.org")
    assert _post(client, f"/staff/submissions/{sid}/override", {"points": "4", "reason": APPEAL}).status_code == 302
    return sid


def _finish(app, submission_id: int, score: float) -> None:
    """Leave a re-run row scored, as a worker would."""
    with transaction(_sessions(app)) as session:
        row = session.get(Submission, submission_id)
        result = {**SCORED_RESULT, "score": score}
        row.state, row.score, row.max_score, row.result = State.SCORED, score, 10.0, result
        row.finished_at = dt.datetime.now(dt.timezone.utc)


def _notices(html: str) -> list[str]:
    """The texts of a student's submission page that say which score of the upload counts."""
    notice = (
        r'<section class="card override".*?</section>|<p class="card notice">.*?</p>|<p class="muted">A re-run.*?</p>'
    )
    return [" ".join(re.sub(r"<[^>]+>", "", part).split()) for part in re.findall(notice, html, re.S)]


def _bearer(app, email: str) -> dict[str, str]:
    """An API token header of an existing account."""
    from grader.models import User
    from grader.services.accounts import create_token

    with transaction(_sessions(app)) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return {"Authorization": f"Bearer {create_token(session, user)}"}


def test_a_rerun_of_an_overridden_upload_asks_first_and_a_kept_override_still_counts_everywhere(
    app, client, auth, accounts, queue
):
    sid = _overridden(app, client, auth, accounts)
    page = f"/staff/submissions/{sid}"
    html = client.get(page).get_data(as_text=True)
    assert "This upload has an override in force. What should the re-run do to it?" in html
    assert f"<strong>4</strong> by Ada (made on run #{sid}): {APPEAL}" in html
    assert 'value="keep"> Keep the override in force' in html and 'value="withdraw"> Withdraw the override' in html

    refused = _post(client, f"{page}/rerun")  # no choice: refused, nothing queued
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and queue.enqueued == []
    assert f"Submission #{sid} (4 by Ada) has an override in force. Choose: keep the override in force" in text
    with _sessions(app)() as session:
        assert len(session.scalars(select(Submission.id)).all()) == 1

    kept = _post(client, f"{page}/rerun", {"override_choice": "keep"})
    ((new, _),) = queue.enqueued
    assert kept.headers["Location"].endswith(f"/staff/submissions/{new}")
    assert f"Override of #{sid} kept in force" in client.get(kept.headers["Location"]).get_data(as_text=True)
    _finish(app, new, 1.25)

    log = client.get(f"/staff/submissions/{new}").get_data(as_text=True)
    assert re.search(r'id="score-in-force">4 \(override by Ada, made on run #\d+', log)
    assert f"Override in force: <strong>4</strong> by Ada, made on run #{sid} and kept over the re-run" in log
    assert "No override yet" not in log and f'<a href="/staff/submissions/{sid}">#{sid}</a>' in log  # the trail's run
    search = client.get("/staff/submissions?max_score=5").get_data(as_text=True)
    assert f">{new}</a>" in search and "4 / 10" in search

    auth.logout()
    auth.login("bob@example.org", "pw-bob-123")
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    notice = f"Score set to 4 by Ada: {APPEAL} Re-run on {day}: the override still counts."
    new_page = client.get(f"/submissions/{new}").get_data(as_text=True)
    assert _notices(new_page) == [notice] and "scored: 4 / 10 (changed by staff)" in new_page
    old_page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert _notices(old_page) == [notice.replace(day, f"{day} (run #{new})")]
    assert "is the one that counts" not in new_page + old_page
    body = client.get(f"/api/v1/submissions/{new}", headers=_bearer(app, "bob@example.org"))
    api = body.get_json()
    assert api["notice"] == notice and api["override"]["points"] == 4 and api["override"]["run"] == sid
    grades = client.get("/api/v1/grades/me", headers=_bearer(app, "bob@example.org"))
    assert [a["final"]["value"] for a in grades.get_json()["assignments"]] == [4]


def test_withdrawing_when_rerunning_lets_the_reruns_score_count_and_the_trail_says_so(
    app, client, auth, accounts, queue
):
    sid = _overridden(app, client, auth, accounts)
    response = _post(client, f"/staff/submissions/{sid}/rerun", {"override_choice": "withdraw", "note": "rubric fixed"})
    ((new, _),) = queue.enqueued
    assert response.status_code == 302
    assert _overrides(app, sid) == [
        (8.5, 4.0, APPEAL, "ta@example.org"),
        (4.0, None, "withdrawn when Ada re-ran the submission: rubric fixed", "ta@example.org"),
    ]
    _finish(app, new, 1.25)
    log = client.get(f"/staff/submissions/{new}").get_data(as_text=True)
    assert 'id="score-in-force">1.25</dd>' in log
    assert "No override in force: the rubric's score of the newest run counts." in log
    assert "withdrawn when Ada re-ran the submission: rubric fixed" in log
    auth.logout()
    auth.login("bob@example.org", "pw-bob-123")
    new_page = client.get(f"/submissions/{new}").get_data(as_text=True)
    assert "Score set to" not in new_page and "scored: 1.25 / 10" in new_page
    assert f"A re-run, requested by staff, of your upload #{sid}; this run is the one that counts." in new_page


def test_a_bulk_rerun_with_an_override_in_force_asks_on_the_list_and_queues_once_answered(
    app, client, auth, accounts, queue
):
    sid = _overridden(app, client, auth, accounts)
    other = add_scored(app, accounts.add("cy@example.org"))
    back = "/staff/submissions?assignment=digits-mlp"
    form = {"csrf_token": csrf_token(client, "/staff/submissions"), "ids": [sid, other], "back": back}
    asked = client.post("/staff/submissions/rerun", data=form)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 400 and queue.enqueued == []
    assert 'aria-label="Re-run with overrides in force"' in html and f"{APPEAL}</li>" in html
    assert f'name="ids" value="{sid}"' in html and f'name="ids" value="{other}"' in html
    done = client.post("/staff/submissions/rerun", data={**form, "override_choice": "keep"})
    assert done.status_code == 302 and len(queue.enqueued) == 2
