"""What CeleryQueue puts on Redis: the task's name and the id, as JSON, on the documented queue."""

from __future__ import annotations

import base64
import json

import redis

from grader.services.queue import CeleryQueue, worker_queues


def messages(redis_url: str, queue: str) -> list[dict]:
    return [json.loads(raw) for raw in redis.Redis.from_url(redis_url).lrange(queue, 0, -1)]


def test_a_first_run_is_the_task_name_and_the_id_as_json_on_the_cpu_queue(redis_url):
    CeleryQueue(redis_url).enqueue(42)
    [message] = messages(redis_url, "cpu")
    assert message["content-type"] == "application/json"
    assert message["headers"]["task"] == "grader.grade_submission"
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([42], {})


def test_a_rerun_goes_to_the_rerun_queue(redis_url):
    CeleryQueue(redis_url).enqueue(7, rerun=True)
    assert len(messages(redis_url, "rerun")) == 1 and messages(redis_url, "cpu") == []


def test_every_worker_serves_first_runs():
    assert "cpu" in worker_queues(0) and "gpu" not in worker_queues(0)
    assert worker_queues(2)[:2] == ["gpu", "cpu"]
