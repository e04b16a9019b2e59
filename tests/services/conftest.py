"""Fixtures of the service tests: migrated databases of both kinds."""

from __future__ import annotations

import pytest

from grader.db import make_engine, make_sessions
from tests.databases import KINDS, migrated_database


@pytest.fixture(params=KINDS)
def sessions(request, tmp_path):
    """Sessions on a fresh, migrated SQLite or PostgreSQL database."""
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        try:
            yield make_sessions(engine)
        finally:
            engine.dispose()
