"""Upload over HTTP to gunicorn, graded by a real worker on Redis, followed until scored; `grader submit`."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.e2e.conftest import REFERENCE, grader, tail_logs, upload, wait_final

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

STACK_ASSIGNMENTS = ("quick-digits",)  # what these tests grade (the stack serves nothing else)
GRADE_JSON_FIELDS = {"status", "outcome", "score", "max_score", "metrics", "criteria", "student_message", "log"}


def test_an_upload_over_http_is_scored(stack):
    sid = upload(stack.url, stack.token)
    body = wait_final(stack.url, stack.token, sid, stack.logs)
    assert (body["state"], body["status"], body["outcome"]) == ("scored", "scored", "ok"), tail_logs(stack.logs)
    assert body["score"] == body["max_score"] == 100, body["criteria"]
    # The fields of `grader grade --json` students may see, plus where the submission is.
    assert GRADE_JSON_FIELDS | {"resources", "id", "assignment", "filename", "state"} <= set(body)
    assert "staff_detail" not in body and "environment" not in body
    assert (body["id"], body["assignment"], body["filename"]) == (sid, "quick-digits", "reference_torch.py")
    assert body["metrics"]["accuracy"] > 0.9 and body["metrics"]["parameters"] > 0
    assert {c["id"] for c in body["criteria"]} == {"accuracy"}
    assert [(c["id"], c["flagged"]) for c in body["checks"]] == [("parameter-budget", False)]  # reported, no points
    assert all(c["points"] == c["max_points"] and c["feedback"] for c in body["criteria"])
    assert body["resources"]["wall_s"] > 0 and body["resources"]["peak_memory_bytes"] > 0
    created, started, finished = (
        dt.datetime.fromisoformat(body[k]) for k in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished <= dt.datetime.now(dt.timezone.utc)


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_grader_submit_wait_prints_the_score(stack):
    env = {"GRADER_SERVER_URL": stack.url, "GRADER_TOKEN": stack.token}
    done = grader("submit", str(REFERENCE), "--assignment", "quick-digits", "--wait", env=env)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("submission ") and f"{stack.url}/submissions/" in first
    assert "status: scored (ok)   score: 100 / 100" in done.stdout
    assert "Test accuracy" in done.stdout and "metrics: accuracy 0.9" in done.stdout


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_grader_submit_json_without_wait_prints_the_id(stack):
    args = ("submit", str(REFERENCE), "--assignment", "quick-digits", "--json")
    done = grader(*args, "--server", stack.url, "--token", stack.token, env={})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["url"] == f"{stack.url}/submissions/{answer['id']}"


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--token", "grd_wrong"),
            "The server refused your token (expired or revoked). Make a new one on your account page",
        ),
        (("--assignment", "nope"), "has no open assignment 'nope'; open assignments: "),  # then every open one
    ],
)
def test_grader_submit_refusals_are_one_clear_line(stack, args, message):
    options = {"--assignment": "quick-digits", "--token": stack.token, "--server": stack.url}
    options.update(zip(args[::2], args[1::2], strict=True))
    done = grader("submit", str(REFERENCE), *(x for kv in options.items() for x in kv), env={})
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_grader_submit_to_a_closed_port_says_so(tmp_path):
    from tests.e2e.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    done = grader("submit", str(REFERENCE), "--assignment", "quick-digits", "--server", url, "--token", "t", env={})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"Error: cannot connect to {url}: is the grader server running there? " + (
        "Set the address with --server or GRADER_SERVER_URL"
    )
