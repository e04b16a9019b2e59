"""Fixtures of the security probes: the web tests' app and logins, with a scratch folder of each test's own.

The probes run against the real app, database, upload checks and blob store;
only the grading queue is the web tests' recording double.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from grader.config import Settings, load_settings
from tests.e2e import conftest as e2e
from tests.web import conftest as web
from tests.web.conftest import PASSWORD, UPLOAD_LIMIT, AuthActions, csrf_token

# The web tests' fixtures as they are; `settings` below gives each probe its own scratch folder.
database_url, queue, app, client, accounts, auth = (
    web.database_url,
    web.queue,
    web.app,
    web.client,
    web.accounts,
    web.auth,
)
browser = e2e.browser  # Debian's Chromium through Playwright, for the probes in a real browser
__all__ = ["PASSWORD", "AuthActions", "csrf_token", "logged_in", "security_settings"]


def security_settings(tmp_path: Path, url: str, **extra: str) -> Settings:
    """Settings of a probe: its own data and scratch folders, and any GRADER_* overrides."""
    return load_settings(
        {
            "GRADER_DATA_DIR": str(tmp_path / "data"),
            "GRADER_RUN_DIR": str(tmp_path / "runs"),
            "GRADER_DATABASE_URL": url,
            "GRADER_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT),
            **extra,
        }
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return security_settings(tmp_path, database_url)


def logged_in(site: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    """A new browser (its own cookie jar) logged in as `email`."""
    browser = site.test_client()
    response = AuthActions(browser).login(email, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser
