"""The account page: create a named, expiring API token (shown once), list and revoke one's own; the API's refusals."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from grader.db import transaction
from grader.models import ApiToken
from grader.services.accounts import MAX_LIVE_TOKENS, hash_token
from tests.web.conftest import csrf_token


def create(client, name: str, expires: str = "30", expires_on: str = ""):
    data = {"csrf_token": csrf_token(client, "/account"), "name": name, "expires": expires, "expires_on": expires_on}
    return client.post("/account/tokens", data=data)


def shown_token(page: str) -> str:
    match = re.search(r'id="new-token" class="secret" value="(grd_[^"]+)"', page)
    assert match, "the new token is not shown"
    return match.group(1)


def stored(app) -> list[ApiToken]:
    with transaction(app.extensions["grader.sessions"]) as session:
        rows = list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
        session.expunge_all()
        return rows


@pytest.fixture
def ada(client, auth, accounts):
    accounts.add("ada@example.org")
    auth.login("ada@example.org")
    return client


def test_the_account_page_needs_a_login_and_links_the_password_page(client, ada, auth):
    page = ada.get("/account").get_data(as_text=True)
    assert "No API tokens yet." in page and 'href="/auth/password"' in page
    assert 'href="/account"' in ada.get("/").get_data(as_text=True)  # the nav's email links here
    auth.logout()
    assert client.get("/account").status_code == 302


def test_a_new_token_is_shown_once_with_the_submit_line_and_works_with_the_api(app, ada):
    response = create(ada, "laptop", "7")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    token = shown_token(page)
    assert f"grader submit model.py --assignment SLUG --server http://localhost --token {token}" in page
    (row,) = stored(app)
    assert row.token_hash == hash_token(token) and row.name == "laptop"
    assert abs(
        row.expires_at.replace(tzinfo=dt.timezone.utc) - (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7))
    ) < dt.timedelta(minutes=1)
    api = ada.application.test_client()
    assert api.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = ada.get("/account").get_data(as_text=True)
    assert "laptop" in listing and token not in listing  # never shown again
    assert "Last used" in listing and listing.count(" UTC") >= 3  # created, expires, last used


def test_a_date_expiry_lasts_to_the_end_of_that_day(app, ada):
    day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    assert create(ada, "lab", "date", day).status_code == 201
    (row,) = stored(app)
    assert row.expires_at.replace(tzinfo=dt.timezone.utc) == dt.datetime.fromisoformat(f"{day}T23:59:59+00:00")


@pytest.mark.parametrize(
    ("name", "expires", "expires_on", "message"),
    [
        ("", "30", "", "Give the token a name"),
        ("x", "date", "", "is not an expiry"),
        ("x", "date", "2001-01-01", "already passed"),
        ("x", "400", "", "at most 365 days"),
    ],
)
def test_a_mistake_is_shown_above_the_form_and_nothing_is_made(app, ada, name, expires, expires_on, message):
    response = create(ada, name, expires, expires_on)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page and "new-token" not in page
    assert stored(app) == []


def test_a_taken_name_and_the_token_limit_are_refused_clearly(app, ada):
    assert create(ada, "laptop").status_code == 201
    again = create(ada, "laptop")
    assert again.status_code == 400 and "You already have a token named &#34;laptop&#34;" in again.get_data(
        as_text=True
    )
    for n in range(MAX_LIVE_TOKENS - 1):
        assert create(ada, f"pc {n}").status_code == 201
    full = create(ada, "one too many")
    assert full.status_code == 400
    assert f"You already have {MAX_LIVE_TOKENS} API tokens that have not expired" in full.get_data(as_text=True)
    assert len(stored(app)) == MAX_LIVE_TOKENS


def test_revoking_ends_the_token_and_another_users_token_is_404(app, client, ada, auth, accounts):
    token = shown_token(create(ada, "laptop").get_data(as_text=True))
    (row,) = stored(app)
    auth.logout()
    accounts.add("bob@example.org")
    auth.login("bob@example.org")
    revoke = {"csrf_token": csrf_token(client, "/account")}
    assert client.post(f"/account/tokens/{row.id}/revoke", data=revoke).status_code == 404
    assert client.post("/account/tokens/999999/revoke", data=revoke).status_code == 404
    assert len(stored(app)) == 1
    auth.logout()
    auth.login("ada@example.org")
    assert client.post(f"/account/tokens/{row.id}/revoke", data={}).status_code == 400  # no CSRF token
    response = client.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302 and stored(app) == []
    assert "Token &#34;laptop&#34; revoked" in client.get("/account").get_data(as_text=True)
    refused = client.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]


def test_creating_needs_the_csrf_token(app, ada):
    assert ada.post("/account/tokens", data={"name": "x", "expires": "30"}).status_code == 400
    assert stored(app) == []


def test_the_api_says_why_a_token_is_refused_and_where_to_make_a_new_one(app, client, accounts):
    token = accounts.token("ada@example.org")
    where = "Make a new one on your account page: http://localhost/account"
    with transaction(app.extensions["grader.sessions"]) as session:
        moment = dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.timezone.utc)
        session.execute(update(ApiToken).values(expires_at=moment))
    cases = {
        f"Bearer {token}": f"This API token expired on 2025-01-02 03:04 UTC. {where}",
        "Bearer grd_unknown": f"This API token is not valid: it was revoked, mistyped or never made. {where}",
        "": f"An API token is required: send 'Authorization: Bearer <token>'. {where}",
    }
    for header, message in cases.items():
        response = client.get("/api/v1/assignments", headers={"Authorization": header} if header else {})
        assert response.status_code == 401 and response.get_json() == {"error": message}
