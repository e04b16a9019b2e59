"""Fixtures every test folder shares: one leased Redis database and one reference cache per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_db import leased_redis_db


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database of this session's own (see tests/redis_db.py)."""
    with leased_redis_db() as url:
        yield url


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A reference cache shared by the session's workers and CLI runs (references are built once)."""
    return tmp_path_factory.mktemp("cache")
