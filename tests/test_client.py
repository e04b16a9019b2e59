"""The API client of `grader submit`: every failure becomes one line saying what to do."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader.client import ClientError, GraderClient

ASSIGNMENTS = {"assignments": [{"slug": "digits-mlp"}]}


class Canned(BaseHTTPRequestHandler):
    """Answers each path with the (status, body) the test set, like a misbehaving server would."""

    answers: dict[str, tuple[int, bytes]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = self.answers.get(self.path, (404, b"<html>not here</html>"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text("def build_model(input_dim, num_classes): ...\n")
    return path


def answer(path: str, status: int, body: object) -> None:
    Canned.answers = {"/api/v1/assignments": (200, json.dumps(ASSIGNMENTS).encode())}
    Canned.answers[path] = (status, body if isinstance(body, bytes) else json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"error": "There is no build_model."}, "refused (400): There is no build_model."),
        (413, {"error": "The file is too large: the limit is 10 MiB."}, "The file is too large: the limit is 10 MiB."),
        (500, b"<html>boom</html>", "the server failed (500); try again later or tell the course staff"),
        (202, b"<html>a proxy page</html>", "did not answer with JSON"),
        (202, {"no": "id"}, "accepted the upload but sent no submission id"),
    ],
)
def test_a_refused_or_strange_upload_is_one_line(server, model, status, body, message):
    answer("/api/v1/submissions", status, body)
    with pytest.raises(ClientError) as caught:
        GraderClient(server, "t").submit(model, "digits-mlp")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_refused_token_points_to_the_account_page(server, model):
    Canned.answers = {"/api/v1/assignments": (401, json.dumps({"error": "This API token expired on ..."}).encode())}
    with pytest.raises(ClientError) as caught:
        GraderClient(server + "/", "grd_old").submit(model, "digits-mlp")
    assert str(caught.value) == (
        f"The server refused your token (expired or revoked). Make a new one on your account page: {server}/account"
    )


def test_a_server_without_the_api_is_named(server, model):
    Canned.answers = {}
    with pytest.raises(ClientError) as caught:
        GraderClient(server, "t").submit(model, "digits-mlp")
    assert str(caught.value) == f"{server}/api/v1/assignments was not found: is {server} a grader server (API v1)?"


def test_waiting_ends_at_a_final_state_and_reports_each_change(server):
    Canned.answers = {"/api/v1/submissions/7": (200, json.dumps({"id": 7, "state": "scored", "score": 90}).encode())}
    seen = []
    body = GraderClient(server, "t").wait(7, poll_seconds=0.01, on_change=lambda b: seen.append(b["state"]))
    assert body["score"] == 90 and seen == ["scored"]


def test_waiting_past_the_timeout_says_where_to_follow_it(server):
    Canned.answers = {"/api/v1/submissions/7": (200, json.dumps({"id": 7, "state": "queued"}).encode())}
    with pytest.raises(ClientError) as caught:
        GraderClient(server, "t").wait(7, poll_seconds=0.01, timeout=0.05)
    assert str(caught.value) == f"submission 7 is still queued after 0.05 s; follow it at {server}/submissions/7"


def test_a_slow_server_is_a_timeout_not_a_hang(tmp_path, model):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(ClientError) as caught:
            GraderClient(url, "t", timeout=0.5).submit(model, "digits-mlp")
    assert str(caught.value) == f"{url} did not answer within 0.5 s; try again later"
