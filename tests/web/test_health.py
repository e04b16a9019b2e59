"""Liveness and readiness: the database, a real broker (SQLAlchemy transport on SQLite, and Redis) and live workers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import time

import pytest

from grader.config import load_settings
from grader.db import transaction
from grader.models import utcnow
from grader.services import worker_registry
from grader.services.queue import RecordingQueue
from grader.services.worker_registry import WorkerSpec
from grader.web import create_app
from grader.web.health import add_readiness_check


def add_worker(app, name: str = "gpu-box:100", seen_ago: float = 0.0, stopped: bool = False) -> None:
    """Register a worker as its main process would, last seen `seen_ago` seconds ago."""
    host, pid = name.split(":")
    spec = WorkerSpec(name, f"celery@{host}", host, int(pid), ["cpu", "rerun"], 1, [])
    seen = utcnow() - dt.timedelta(seconds=seen_ago)
    with transaction(app.extensions["grader.sessions"]) as session:
        worker_registry.register_worker(session, spec, seen)
        if stopped:
            worker_registry.mark_stopped(session, name, seen)


def closed_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_with_broker(settings, broker_url: str):
    return create_app(
        dataclasses.replace(settings, broker_url=broker_url), queue=RecordingQueue(), test_config={"TESTING": True}
    )


def test_up_answers_200(client):
    assert client.get("/up").status_code == 200


def test_ready_with_a_live_worker_and_the_embedded_broker(app, client, settings):
    assert settings.broker_url.startswith("sqla+sqlite:///")  # the default: kombu's SQLAlchemy transport
    add_worker(app)
    response = client.get("/up/ready")
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "workers": "ok"},
    }
    assert response.status_code == 200


def test_ready_with_a_live_worker_and_redis(settings, redis_url):
    app = app_with_broker(settings, redis_url)
    add_worker(app)
    response = app.test_client().get("/up/ready")
    assert response.status_code == 200, response.get_json()
    app.extensions["grader.engine"].dispose()


def test_not_ready_without_any_worker(client):
    response = client.get("/up/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok", "workers": "failing"}


@pytest.mark.parametrize("seen_ago, stopped", [(61.0, False), (1.0, True)], ids=["stale", "stopped"])
def test_a_stale_or_stopped_worker_is_not_a_live_one(app, client, seen_ago, stopped):
    add_worker(app, seen_ago=seen_ago, stopped=stopped)  # the window is stale_after_seconds, 60 s by default
    response = client.get("/up/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["workers"] == "failing"


def test_not_ready_when_the_broker_port_is_closed_and_says_so_fast(settings):
    app = app_with_broker(settings, f"redis://127.0.0.1:{closed_port()}/0")
    add_worker(app)
    started = time.monotonic()
    response = app.test_client().get("/up/ready")
    assert time.monotonic() - started < 3.5
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "broker": "failing", "workers": "ok"}
    app.extensions["grader.engine"].dispose()


def test_a_broker_that_never_answers_is_failing_within_the_deadline(settings):
    with socket.socket() as silent:  # accepts connections (the kernel does) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        app = app_with_broker(settings, f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        add_worker(app)
        started = time.monotonic()
        response = app.test_client().get("/up/ready")
        assert time.monotonic() - started < 3.5
    assert response.get_json()["checks"]["broker"] == "failing"
    app.extensions["grader.engine"].dispose()


def test_an_unknown_check_is_not_ok(app, client):
    add_worker(app)
    add_readiness_check(app, "storage", lambda: None)
    response = client.get("/up/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"] == "unknown"


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
    assert response.get_json()["checks"]["workers"] == "failing"
