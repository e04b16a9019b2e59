"""Item 16: failed logins are throttled per account and per address (429 with Retry-After); unknown emails cost the same."""

from __future__ import annotations

import datetime as dt
import statistics
import time

import pytest
from flask import Flask
from sqlalchemy import update

from grader.db import transaction
from grader.models import LoginFailure
from grader.services.queue import RecordingQueue
from grader.web import create_app
from tests.security.conftest import PASSWORD, csrf_token, security_settings


def try_login(client, email: str, password: str, address: str = "198.51.100.7", headers: dict | None = None):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/auth/login", data=data, environ_base={"REMOTE_ADDR": address}, headers=headers or {})


@pytest.fixture
def small_app(tmp_path, database_url):
    """An app whose address limit is 4 failures, so spreading guesses over accounts is quick to show."""
    settings = security_settings(tmp_path, database_url, GRADER_LOGIN_ADDRESS_LIMIT="4", GRADER_PROXY_HOPS="1")
    app = create_app(settings, queue=RecordingQueue(), test_config={"TESTING": True})
    yield app
    app.extensions["grader.engine"].dispose()


def test_thirty_wrong_passwords_in_a_row_are_not_all_answered(client, accounts):
    accounts.add("ada@example.org")
    statuses = [try_login(client, "ada@example.org", f"guess {n}").status_code for n in range(30)]
    assert statuses == [401] * 10 + [429] * 20
    refused = try_login(client, "ada@example.org", PASSWORD)  # even the right password, while refused
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert "Try again in 15 min" in refused.get_data(as_text=True)


def test_an_unknown_email_is_throttled_alike(client):
    statuses = [try_login(client, "nobody@example.org", f"guess {n}").status_code for n in range(11)]
    assert statuses == [401] * 10 + [429]


def test_the_account_is_free_again_once_its_failures_leave_the_window(app, client, accounts):
    accounts.add("ada@example.org")
    for n in range(10):
        try_login(client, "ada@example.org", f"guess {n}")
    assert try_login(client, "ada@example.org", PASSWORD).status_code == 429
    with transaction(app.extensions["grader.sessions"]) as session:  # fifteen minutes later
        session.execute(update(LoginFailure).values(at=LoginFailure.at - dt.timedelta(minutes=15, seconds=1)))
    assert try_login(client, "ada@example.org", PASSWORD).status_code == 302


def test_a_correct_password_clears_the_accounts_failures(client, accounts):
    accounts.add("ada@example.org")
    for n in range(9):
        try_login(client, "ada@example.org", f"guess {n}")
    assert try_login(client, "ada@example.org", PASSWORD).status_code == 302
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert [try_login(client, "ada@example.org", f"again {n}").status_code for n in range(9)] == [401] * 9


def test_guesses_spread_over_accounts_are_throttled_per_address(small_app: Flask):
    client = small_app.test_client()
    statuses = [try_login(client, f"user{n}@example.org", "guess").status_code for n in range(5)]
    assert statuses == [401] * 4 + [429]
    assert try_login(client, "user9@example.org", "guess", address="203.0.113.9").status_code == 401


def test_behind_a_proxy_the_forwarded_address_counts_and_the_proxy_is_not_throttled(small_app: Flask):
    client = small_app.test_client()
    for n in range(4):
        try_login(client, f"user{n}@example.org", "guess", headers={"X-Forwarded-For": "192.0.2.1"})
    assert try_login(client, "x@example.org", "g", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    assert try_login(client, "x@example.org", "g", headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 401


def test_without_a_trusted_proxy_a_forged_forwarded_address_changes_nothing(client):
    for n in range(10):
        try_login(client, "ada@example.org", "guess", headers={"X-Forwarded-For": f"192.0.2.{n}"})
    assert try_login(client, "ada@example.org", "g", headers={"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_a_password_change_form_is_throttled_too(app, client, auth, accounts):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    statuses = []
    for n in range(11):
        data = {
            "current_password": f"guess {n}",
            "new_password": "whatever it is",
            "confirm_password": "whatever it is",
            "csrf_token": csrf_token(client, "/auth/password"),
        }
        statuses.append(client.post("/auth/password", data=data).status_code)
    assert statuses == [400] * 10 + [429]


def median_login_seconds(client, email: str, runs: int = 5) -> float:
    times = []
    for n in range(runs):
        token = csrf_token(client)
        started = time.perf_counter()
        response = client.post("/auth/login", data={"email": email, "password": f"wrong {n}", "csrf_token": token})
        times.append(time.perf_counter() - started)
        assert response.status_code == 401
    return statistics.median(times)


def test_an_unknown_email_takes_as_long_as_a_wrong_password(client, accounts):
    """Before: 11 ms for an unknown email against 345 ms for a known one (no hash was checked)."""
    accounts.add("ada@example.org")
    known = median_login_seconds(client, "ada@example.org")
    unknown = median_login_seconds(client, "nobody@example.org")
    assert 0.5 < unknown / known < 2, (unknown, known)
