"""Student pages: assignments, submissions with live status, and nothing of anyone else."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, State, User
from tests.web.conftest import UPLOAD_LIMIT, submit_form
from tests.web.helpers import add_scored, add_submission, submission_count


def test_assignments_show_deadlines_with_a_countdown(app, client, auth, accounts):
    with transaction(app.extensions["grader.sessions"]) as session:
        due = dt.datetime(2025, 2, 13, 23, 59, tzinfo=dt.timezone.utc)
        session.add(Assignment(slug="cnn", title="Images with a CNN", topic=3, due_at=due))
        session.add(Assignment(slug="hidden", title="Not yet", topic=4, published=False))
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    page = client.get("/").get_data(as_text=True)
    assert "Images with a CNN" in page and "Due 13 Feb 2025 23:59 UTC" in page
    assert 'class="countdown" data-due="2025-02-13T23:59:00' in page
    assert "Not yet" not in page
    assert 'accept=".py,.zip,.ipynb"' in page


def test_my_submissions_lists_only_mine_with_live_status(app, client, auth, accounts):
    ada = accounts.add("ada@example.org")
    bob = accounts.add("bob@example.org")
    queued = add_submission(app, ada)
    scored = add_scored(app, ada)
    theirs = add_scored(app, bob)
    auth.login("ada@example.org")
    page = client.get("/submissions").get_data(as_text=True)
    assert f'href="/submissions/{queued}"' in page and f'href="/submissions/{scored}"' in page
    assert f'href="/submissions/{theirs}"' not in page
    assert f'data-poll="/submissions/{queued}/status.json"' in page
    assert "queued (position 1)" in page and "scored: 8.5 / 10" in page


def test_submission_detail_shows_criteria_metrics_and_log_but_no_staff_detail(app, client, auth, accounts):
    sid = add_scored(app, accounts.add("ada@example.org"))
    auth.login("ada@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "Accuracy" in page and "Good accuracy." in page
    assert "<dt>Accuracy</dt>\n  <dd>0.971</dd>" in page and "<dt>Macro F1</dt>\n  <dd>0.970</dd>" in page
    assert '12,345 <small class="muted">(as your run reported it)</small>' in page  # a claim, labelled so
    assert "epoch 5/5 loss 0.1" in page
    assert "SECRET" not in page and "/srv" not in page


def test_status_json_follows_a_running_submission(app, client, auth, accounts):
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=12)
    sid = add_submission(
        app, accounts.add("ada@example.org"), State.RUNNING, started_at=started, progress={"epoch": 1, "epochs": 3}
    )
    auth.login("ada@example.org")
    body = client.get(f"/submissions/{sid}/status.json").get_json()
    assert body["state"] == "running" and body["progress"] == {"epoch": 1, "epochs": 3}
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    # 12 s and however long this loaded machine took
    assert re.search(r"running 1[2-9] s: training your model, epoch 1 of 3", page)


def test_another_students_submission_status_and_log_answer_404(app, client, auth, accounts):
    theirs = add_scored(app, accounts.add("bob@example.org"))
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    for path in (f"/submissions/{theirs}", f"/submissions/{theirs}/status.json", f"/submissions/{theirs}/log"):
        assert client.get(path).status_code == 404, path


def test_own_log_is_plain_text(app, client, auth, accounts):
    sid = add_scored(app, accounts.add("ada@example.org"))
    auth.login("ada@example.org")
    response = client.get(f"/submissions/{sid}/log")
    assert response.mimetype == "text/plain"
    assert "epoch 5/5" in response.get_data(as_text=True)


def test_the_staff_grading_log_shows_staff_detail_to_staff_only(app, client, auth, accounts):
    from grader.models import Role

    sid = add_scored(app, accounts.add("bob@example.org"))
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    assert "bob@example.org" in client.get("/staff/submissions").get_data(as_text=True)
    page = client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert "SECRET /srv/grader/runs/abc" in page and "worker traceback" in page


def test_a_too_large_form_upload_is_shown_in_place_and_nothing_is_stored(app, client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    response = submit_form(client, b"#" * (UPLOAD_LIMIT + 1), "model.py")
    assert response.status_code == 413
    assert 'role="alert">The file is too large' in response.get_data(as_text=True)
    assert queue.enqueued == [] and submission_count(app) == 0


def test_a_form_upload_without_a_file_is_shown_in_place(app, client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    response = submit_form(client, None)
    assert response.status_code == 400
    assert "Choose a .py, .zip or .ipynb file first." in response.get_data(as_text=True)
    assert queue.enqueued == []


def test_an_upload_over_the_request_limit_is_shown_in_place(app, client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    response = submit_form(client, b"#" * (UPLOAD_LIMIT * 4), "model.py")
    assert response.status_code == 413
    assert 'role="alert">The file is too large: the limit is 0.0625 MiB.' in response.get_data(as_text=True)
    assert queue.enqueued == [] and submission_count(app) == 0


def _daily_limit(app, limit: int) -> None:
    with transaction(app.extensions["grader.sessions"]) as session:
        assignment = session.scalars(select(Assignment).where(Assignment.slug == "digits-mlp")).one()
        assignment.policy = {"due_at": "2099-01-01T12:00:00", "daily_limit": limit}


def test_past_the_daily_limit_the_student_sees_only_the_status_and_why(app, client, auth, accounts):
    ada = accounts.add("ada@example.org")
    _daily_limit(app, 1)
    first, second = add_scored(app, ada, feedback="full"), add_scored(app, ada, feedback="status")
    auth.login("ada@example.org")
    full = client.get(f"/submissions/{first}").get_data(as_text=True)
    assert "scored: 8.5 / 10" in full and "Good accuracy." in full and "epoch 5/5" in full
    limited = client.get(f"/submissions/{second}").get_data(as_text=True)
    assert "scored (score hidden until 1 Jan 2099 12:00 UTC)" in limited
    assert "Good accuracy." not in limited and "0.971" not in limited and "epoch 5/5" not in limited
    assert "Uploaded over that day&#39;s limit of fully graded submissions" in limited
    assert "You have used today&#39;s 1 fully graded submissions" in limited
    body = client.get(f"/submissions/{second}/status.json").get_json()
    assert body["feedback"]["level"] == "status" and body["state"] == "scored"
    assert body["feedback"]["hidden_until"] == "2099-01-01T12:00:00+00:00"
    assert (body["score"], body["criteria"], body["metrics"], body["log"]) == (None, [], {}, "")
    assert client.get(f"/submissions/{second}/log").get_data(as_text=True) == ""
    listed = client.get("/submissions").get_data(as_text=True)
    assert "scored: 8.5 / 10" in listed and "scored (score hidden until 1 Jan 2099 12:00 UTC)" in listed


def test_the_api_applies_the_daily_limit_to_the_student(app, client, accounts):
    token = accounts.token("ada@example.org")
    with transaction(app.extensions["grader.sessions"]) as session:
        ada = session.scalars(select(User).where(User.email == "ada@example.org")).one().id
    _daily_limit(app, 1)
    add_scored(app, ada, feedback="full")
    second = add_scored(app, ada, feedback="status")
    body = client.get(f"/api/v1/submissions/{second}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["score"] is None and body["log"] == "" and body["feedback"]["level"] == "status"
    assert body["override"] is None
    from grader.models import Role

    staff = {"Authorization": f"Bearer {accounts.token('ta@example.org', Role.TA)}"}
    seen_by_staff = client.get(f"/api/v1/submissions/{second}", headers=staff).get_json()
    assert seen_by_staff["score"] == 8.5 and seen_by_staff["log"] != "" and seen_by_staff["feedback"]["level"] == "full"


def test_staff_see_everything_of_a_submission_hidden_from_its_student(app, client, auth, accounts):
    from grader.models import Role

    ada = accounts.add("ada@example.org")
    _daily_limit(app, 1)
    hidden = add_scored(app, ada, feedback="status")
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    assert "epoch 5/5" in client.get(f"/submissions/{hidden}").get_data(as_text=True)
    auth.logout()
    auth.login("ada@example.org")
    assert "epoch 5/5" not in client.get(f"/submissions/{hidden}").get_data(as_text=True)


def test_without_a_daily_limit_every_submission_shows_in_full(app, client, auth, accounts):
    ada = accounts.add("ada@example.org")
    ids = [add_scored(app, ada) for _ in range(3)]
    auth.login("ada@example.org")
    for sid in ids:
        body = client.get(f"/submissions/{sid}/status.json").get_json()
        assert body["feedback"]["level"] == "full" and body["feedback"]["hidden_until"] is None
        assert body["score"] == 8.5


def test_a_student_sees_which_run_of_a_rerun_upload_counts(app, client, auth, accounts, queue):
    from grader.models import Role
    from tests.web.conftest import csrf_token

    sid = add_scored(app, accounts.add("ada@example.org"))
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    client.post(f"/staff/submissions/{sid}/rerun", data={"csrf_token": csrf_token(client, "/")})
    auth.logout()
    ((new, _rerun),) = queue.enqueued
    auth.login("ada@example.org")
    old_page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert f"run #{new}</a> is the one that counts" in old_page and "Good accuracy." in old_page
    new_page = client.get(f"/submissions/{new}").get_data(as_text=True)
    assert f"A re-run, requested by staff, of your upload #{sid}" in new_page
    listed = client.get("/submissions").get_data(as_text=True)
    assert f"re-run of #{sid}" in listed and f"replaced by #{new}" in listed
    assert client.get(f"/submissions/{sid}/status.json").get_json()["superseded_by"] == new


def test_an_upload_beyond_the_pending_limit_is_refused_next_to_the_form(app, client, auth, accounts, queue):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    for n in range(3):
        assert submit_form(client, b"x = %d\n" % n).status_code == 302
    response = submit_form(client, b"x = 3\n")
    assert response.status_code == 429
    assert "You have 3 submissions of Digits with an MLP waiting or running" in response.get_data(as_text=True)
    assert submission_count(app) == 3 and len(queue.enqueued) == 1
