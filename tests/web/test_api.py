"""HTTP API v1 on SQLite and on PostgreSQL: tokens, assignments, submissions."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from grader.models import Role, State
from tests.databases import KINDS, migrated_database
from tests.web.conftest import UPLOAD_LIMIT
from tests.web.helpers import SCORED_RESULT, add_scored, add_submission, submission_count

STUDENT_FIELDS = {
    "status",
    "outcome",
    "score",
    "max_score",
    "metrics",
    "criteria",
    "student_message",
    "log",
    "resources",
}


@pytest.fixture(params=KINDS)
def database_url(request, tmp_path):
    """Run every API test on a fresh migrated SQLite and PostgreSQL database."""
    with migrated_database(request.param, tmp_path) as url:
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_id(app, email: str) -> int:
    from grader.db import transaction
    from grader.services.accounts import find_user

    with transaction(app.extensions["grader.sessions"]) as session:
        return find_user(session, email).id


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}],
)
def test_no_or_bad_token_answers_401_json(client, headers):
    for method, path in (
        ("get", "/api/v1/assignments"),
        ("get", "/api/v1/submissions/1"),
        ("post", "/api/v1/submissions"),
    ):
        response = getattr(client, method)(path, headers=headers)
        assert response.status_code == 401
        assert "token" in response.get_json()["error"]


def test_assignments_are_listed_with_deadlines(app, client, accounts):
    token = accounts.token("ada@example.org")
    body = client.get("/api/v1/assignments", headers=bearer(token)).get_json()
    assert body["assignments"] == [
        {"slug": "digits-mlp", "title": "Digits with an MLP", "topic": 1, "opens_at": None, "due_at": None}
    ]


def test_tokens_are_stored_only_as_sha256(app, accounts):
    from sqlalchemy import select

    from grader.db import transaction
    from grader.models import ApiToken
    from grader.services.accounts import hash_token

    token = accounts.token("ada@example.org")
    with transaction(app.extensions["grader.sessions"]) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hash_token(token)]
    assert token not in stored


def test_a_scored_submission_has_the_grade_json_fields_without_staff_detail(app, client, accounts):
    token = accounts.token("ada@example.org")
    sid = add_scored(app, user_id(app, "ada@example.org"))
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
    assert STUDENT_FIELDS <= body.keys()
    assert {f: body[f] for f in STUDENT_FIELDS} == {f: SCORED_RESULT[f] for f in STUDENT_FIELDS}
    assert body["id"] == sid and body["assignment"] == "digits-mlp" and body["state"] == "scored"
    assert body["created_at"] and body["started_at"] and body["finished_at"]
    assert "staff_detail" not in body and "SECRET" not in str(body) and "/srv" not in str(body)


def test_a_queued_submission_says_its_position(app, client, accounts):
    token = accounts.token("ada@example.org")
    other = accounts.add("bob@example.org")
    add_submission(app, other)
    sid = add_submission(app, user_id(app, "ada@example.org"))
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
    assert body["status"] == "queued" and body["state"] == "queued"
    assert body["queue_position"] == 2
    assert body["score"] is None and body["finished_at"] is None
    assert STUDENT_FIELDS <= body.keys()


def test_a_running_submission_says_elapsed_time_and_progress(app, client, accounts):
    token = accounts.token("ada@example.org")
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
    progress = {"phase": "train", "epoch": 2, "epochs": 5}
    sid = add_submission(app, user_id(app, "ada@example.org"), State.RUNNING, started_at=started, progress=progress)
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
    assert body["status"] == "running"
    assert 29 <= body["elapsed_s"] < 60
    assert body["progress"] == progress


def test_another_users_submission_answers_404(app, client, accounts):
    token = accounts.token("ada@example.org")
    sid = add_scored(app, accounts.add("bob@example.org"))
    response = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token))
    assert response.status_code == 404
    assert response.get_json() == {"error": "No such submission."}
    assert client.get("/api/v1/submissions/99999", headers=bearer(token)).status_code == 404


def test_staff_may_read_any_submission_through_the_api_but_not_its_staff_detail(app, client, accounts):
    token = accounts.token("ta@example.org", Role.TA)
    sid = add_scored(app, accounts.add("bob@example.org"))
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
    assert body["score"] == 8.5 and "staff_detail" not in body


def test_unknown_api_paths_answer_json(client, accounts):
    token = accounts.token("ada@example.org")
    response = client.get("/api/v1/nothing", headers=bearer(token))
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_an_upload_without_fields_answers_400(client, accounts, queue):
    token = accounts.token("ada@example.org")
    response = client.post("/api/v1/submissions", headers=bearer(token), data={"assignment": "digits-mlp"})
    assert response.status_code == 400
    assert "file" in response.get_json()["error"]
    assert queue.enqueued == []


@pytest.mark.parametrize("size", [UPLOAD_LIMIT + 1, UPLOAD_LIMIT + 200 * 1024])
def test_a_too_large_upload_answers_413_and_stores_nothing(app, client, accounts, queue, size):
    token = accounts.token("ada@example.org")
    data = {"assignment": "digits-mlp", "file": (io.BytesIO(b"#" * size), "model.py")}
    response = client.post("/api/v1/submissions", headers=bearer(token), data=data)
    assert response.status_code == 413
    assert "too large" in response.get_json()["error"]
    assert queue.enqueued == [] and submission_count(app) == 0


def test_workers_are_listed_for_staff_only(client, accounts):
    student = client.get("/api/v1/workers", headers=bearer(accounts.token("ada@example.org")))
    assert student.status_code == 403 and "TAs and instructors" in student.get_json()["error"]
    staff = client.get("/api/v1/workers", headers=bearer(accounts.token("ta@example.org", Role.TA)))
    assert staff.status_code == 200
    assert staff.get_json()["workers"] == [] and set(staff.get_json()["queues"]) == {"gpu", "cpu", "rerun"}


def api_upload(client, token: str, tag: int):
    data = {"assignment": "digits-mlp", "file": (io.BytesIO(b"x = %d\n" % tag), "model.py")}
    return client.post("/api/v1/submissions", headers=bearer(token), data=data)


def test_a_students_uploads_beyond_the_pending_limit_are_refused_with_429(app, client, accounts, queue):
    token = accounts.token("ada@example.org")
    ids = [api_upload(client, token, n).get_json()["id"] for n in range(3)]
    response = api_upload(client, token, 3)
    assert response.status_code == 429
    assert response.get_json()["error"] == (
        "You have 3 submissions of Digits with an MLP waiting or running, the most this assignment allows at once. "
        "Upload again when one of them has finished."
    )
    assert submission_count(app) == 3 and queue.enqueued == [(ids[0], False)]  # one message per student
    other = api_upload(client, accounts.token("bob@example.org"), 0)
    assert other.status_code == 202 and queue.enqueued[-1] == (other.get_json()["id"], False)


def test_an_upload_behind_the_students_own_says_so_and_is_not_given_a_queue_place(app, client, accounts):
    token = accounts.token("ada@example.org")
    first, second = (api_upload(client, token, n).get_json()["id"] for n in range(2))
    assert client.get(f"/api/v1/submissions/{first}", headers=bearer(token)).get_json()["queue_position"] == 1
    body = client.get(f"/api/v1/submissions/{second}", headers=bearer(token)).get_json()
    assert (body["state"], body["queue_position"], body["waiting_for"]) == ("queued", None, [first])
    assert body["student_message"] == (
        f"Waiting for your submission #{first} to finish first; then it joins the queue (1 ahead now)."
    )


@pytest.mark.parametrize(
    ("progress", "message"),
    [
        (None, "Running: starting the run."),
        ({"phase": "import"}, "Running: preparing: loading your code."),
        ({"phase": "train", "epoch": 3, "epochs": 10}, "Running: training your model, epoch 3 of 10."),
        ({"phase": "predict"}, "Running: answering the hidden test inputs."),
        ({"phase": "save"}, "Running: scoring your answers."),
        (
            {"phase": "references"},
            "Waiting for the course's reference solutions to be built; your model is trained and scored right after.",
        ),
    ],
)
def test_a_running_submission_says_what_its_run_is_doing(app, client, accounts, progress, message):
    token = accounts.token("ada@example.org")
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    sid = add_submission(app, user_id(app, "ada@example.org"), State.RUNNING, started_at=started, progress=progress)
    body = client.get(f"/api/v1/submissions/{sid}", headers=bearer(token)).get_json()
    assert body["student_message"] == message and "queue" not in body["student_message"]
    assert body["status_text"].startswith("running ") and "queue" not in body["status_text"]
