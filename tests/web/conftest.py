"""Fixtures of the web tests: an app on a fresh migrated database, a client, logins and a queue double."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from grader.config import Settings, load_settings
from grader.db import transaction
from grader.models import Assignment, Role
from grader.services.accounts import create_token, create_user
from grader.services.queue import RecordingQueue
from grader.web import create_app
from tests.databases import migrated_database

PASSWORD = "correct horse battery"
UPLOAD_LIMIT = 64 * 1024


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite database at the latest migration."""
    with migrated_database("sqlite", tmp_path) as url:
        yield url


def web_settings(tmp_path: Path, database_url: str, **extra: str) -> Settings:
    """The web tests' settings: a data folder in `tmp_path`, the database, a small upload limit, any GRADER_* more."""
    return load_settings(
        {
            "GRADER_DATA_DIR": str(tmp_path / "data"),
            "GRADER_DATABASE_URL": database_url,
            "GRADER_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT),
            **extra,
        }
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return web_settings(tmp_path, database_url)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def app(settings: Settings, queue: RecordingQueue) -> Iterator[Flask]:
    app = create_app(settings, queue=queue, test_config={"TESTING": True})
    with transaction(app.extensions["grader.sessions"]) as session:
        session.add(Assignment(slug="digits-mlp", title="Digits with an MLP", topic=1))
    yield app
    app.extensions["grader.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Accounts:
    """Create users and tokens straight in the app's database."""

    def __init__(self, app: Flask):
        self.sessions = app.extensions["grader.sessions"]

    def add(self, email: str, role: Role = Role.STUDENT, password: str = PASSWORD) -> int:
        with transaction(self.sessions) as session:
            return create_user(session, email=email, role=role, password=password).id

    def token(self, email: str, role: Role = Role.STUDENT) -> str:
        with transaction(self.sessions) as session:
            user = create_user(session, email=email, role=role, password=PASSWORD)
            return create_token(session, user)


@pytest.fixture
def accounts(app: Flask) -> Accounts:
    return Accounts(app)


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """Read the CSRF token from a page's form."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def submit_form(client: FlaskClient, content: bytes | None, filename: str = "model.py"):
    """Post the digits-mlp upload form as a browser would, with its CSRF token."""
    data = {"csrf_token": csrf_token(client, "/")}
    if content is not None:
        data["file"] = (io.BytesIO(content), filename)
    return client.post("/assignments/digits-mlp/submit", data=data, content_type="multipart/form-data")


class AuthActions:
    """Log in and out through the real forms, CSRF token included."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        token = csrf_token(self.client)
        data = {"email": email, "password": password, "csrf_token": token}
        return self.client.post("/auth/login", data=data)

    def logout(self):
        return self.client.post("/auth/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
