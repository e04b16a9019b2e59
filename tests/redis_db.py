"""A Redis database of its own for each test session, so sessions on one machine never collide.

Redis runs on 127.0.0.1:6379 on development and CI machines. A session leases
one of databases 8-15 with a key in database 0 (it expires, so a killed session
frees its database within hours) and flushes it before and after use.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
TEST_DBS = range(8, 16)
LEASE_SECONDS = 4 * 3600


@contextlib.contextmanager
def leased_redis_db() -> Iterator[str]:
    """Yield the URL of an empty Redis database nobody else is using; free it afterwards."""
    locks = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    try:
        locks.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not running at {REDIS_HOST}:{REDIS_PORT}: {exc}")
    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    for db in TEST_DBS:
        key = f"grader-tests:lease:{db}"
        if locks.set(key, token, nx=True, ex=LEASE_SECONDS):
            break
    else:
        pytest.fail(f"every test Redis database ({TEST_DBS.start}-{TEST_DBS.stop - 1}) is leased by another session")
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        if locks.get(key) == token.encode():
            locks.delete(key)
