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


def test_a_redis_worker_takes_first_runs_before_the_low_priority_rerun_queue(leased_redis):
    """Re-runs and reference builds wait while students' first runs wait (kombu's default would alternate)."""
    from kombu import Connection, Consumer, Queue

    from grader.services.queue import transport_options, worker_queues

    client = redis.Redis.from_url(leased_redis)
    client.flushdb()
    producer = CeleryQueue(leased_redis)
    producer.enqueue(1, rerun=True)
    producer.enqueue(2, rerun=True)
    for submission_id in (3, 4, 5):
        producer.enqueue(submission_id)
    taken: list[int] = []
    options = transport_options(leased_redis, visibility_timeout=60)
    with Connection(leased_redis, transport_options=options) as connection:
        queues = [Queue(name, routing_key=name) for name in worker_queues(gpus=0)]

        def take(body, message):
            args, _kwargs, _embed = body  # Celery's message body: the task's arguments, the submission id
            taken.append(args[0])
            message.ack()

        with Consumer(connection, queues=queues, callbacks=[take], accept=["json"], prefetch_count=1):
            while len(taken) < 5:
                connection.drain_events(timeout=5)
    client.flushdb()
    assert taken == [3, 4, 5, 1, 2]
