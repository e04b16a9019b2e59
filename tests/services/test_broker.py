"""Broker inspection on a real Redis (a leased database) and a real SQLAlchemy-transport broker file."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from grader.services.broker import GRADING_QUEUES, inspect_broker
from grader.services.queue import CeleryQueue
from tests.redis_db import leased_redis_db


@pytest.fixture(scope="module")
def leased_redis() -> Iterator[str]:
    with leased_redis_db() as url:
        yield url


@pytest.fixture(params=["redis", "sqlalchemy"])
def broker_url(request, tmp_path, leased_redis) -> Iterator[str]:
    if request.param == "sqlalchemy":
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}"
        return
    client = redis.Redis.from_url(leased_redis)
    client.flushdb()
    yield leased_redis
    client.flushdb()


def test_queues_never_used_hold_nothing(broker_url):
    report = inspect_broker(broker_url)
    assert report.reachable and report.error is None
    assert report.queues == {"gpu": 0, "cpu": 0, "rerun": 0}
    assert tuple(report.queues) == GRADING_QUEUES


def test_counts_the_messages_waiting_in_each_queue(broker_url):
    producer = CeleryQueue(broker_url)  # what the web side sends: first runs to cpu, reruns to rerun
    for submission_id in (1, 2, 3):
        producer.enqueue(submission_id)
    producer.enqueue(4, rerun=True)
    assert inspect_broker(broker_url).queues == {"gpu": 0, "cpu": 3, "rerun": 1}
    assert inspect_broker(broker_url, queues=["rerun", "elsewhere"]).queues == {"rerun": 1, "elsewhere": 0}


def test_a_closed_port_is_reported_not_raised():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    report = inspect_broker(f"redis://127.0.0.1:{port}/0")
    assert time.monotonic() - started < 2
    assert not report.reachable and report.queues == {}
    assert "Connection refused" in report.error


def test_a_silent_broker_is_reported_within_the_deadline():
    with socket.socket() as silent:  # the kernel accepts the connection; nothing ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        report = inspect_broker(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.5)
        assert time.monotonic() - started < 2.5  # 0.5 s to connect and answer, 1 s more at most in all
    assert not report.reachable


def test_an_sqlite_broker_in_a_missing_folder_is_reported(tmp_path):
    report = inspect_broker(f"sqla+sqlite:///{tmp_path / 'no' / 'such' / 'broker.db'}")
    assert not report.reachable and "unable to open database file" in report.error
