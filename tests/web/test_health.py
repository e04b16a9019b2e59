"""Liveness and readiness."""

from __future__ import annotations

from grader.config import load_settings
from grader.services.queue import RecordingQueue
from grader.web import create_app
from grader.web.health import add_readiness_check


def test_up_answers_200(client):
    assert client.get("/up").status_code == 200


def test_ready_checks_the_database_and_reports_unchecked_parts_as_unknown(client):
    response = client.get("/up/ready")
    body = response.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "unknown"
    assert body["checks"]["workers"] == "unknown"
    assert response.status_code == 503


def test_ready_when_every_check_passes(app, client):
    add_readiness_check(app, "broker", lambda: True)
    add_readiness_check(app, "workers", lambda: True)
    response = client.get("/up/ready")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_a_raising_check_reads_as_failing(app, client):
    def broken() -> bool:
        raise ConnectionError("broker down")

    add_readiness_check(app, "broker", broken)
    response = client.get("/up/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["broker"] == "failing"


def test_ready_fails_when_the_database_is_unreachable(tmp_path):
    env = {"GRADER_DATA_DIR": str(tmp_path), "GRADER_DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/grader.db"}
    client = create_app(load_settings(env), queue=RecordingQueue()).test_client()
    assert client.get("/up").status_code == 200
    response = client.get("/up/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "failing"
