"""API tokens: named, expiring, at most MAX_LIVE_TOKENS live per user, revocable only by their owner."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import ApiToken, Role, User
from grader.services.accounts import (
    MAX_LIVE_TOKENS,
    TokenError,
    TokenRefused,
    check_token,
    create_token,
    create_user,
    hash_token,
    list_tokens,
    revoke_token,
    token_expiry,
    user_for_token,
)

NOW = dt.datetime(2025, 2, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def people(sessions):
    """Two students; returns their ids."""
    with transaction(sessions) as session:
        ada = create_user(session, email="ada@example.org", role=Role.STUDENT, password="pw")
        bob = create_user(session, email="bob@example.org", role=Role.STUDENT, password="pw")
        return ada.id, bob.id


def make(sessions, user_id: int, **kwargs) -> str:
    with transaction(sessions) as session:
        return create_token(session, session.get(User, user_id), **kwargs)


def test_a_token_is_stored_hashed_with_its_name_and_a_default_expiry_of_30_days(sessions, people):
    ada, _ = people
    token = make(sessions, ada, name="  my   laptop ", now=NOW)
    with transaction(sessions) as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.token_hash == hash_token(token) and token not in row.token_hash
        assert row.name == "my laptop"
        assert row.expires_at.replace(tzinfo=dt.timezone.utc) == NOW + dt.timedelta(days=30)


def test_tokens_made_without_a_name_get_the_first_free_one(sessions, people):
    ada, _ = people
    make(sessions, ada, name="token 1")
    make(sessions, ada)
    make(sessions, ada)
    with transaction(sessions) as session:
        assert sorted(t.name for t in list_tokens(session, ada)) == ["token 1", "token 2", "token 3"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name"),
        ("   ", "Give the token a name"),
        ("x" * 101, "use at most 100"),
        ("laptop", 'You already have a token named "laptop"'),
    ],
)
def test_a_bad_or_taken_name_is_refused_and_nothing_is_stored(sessions, people, name, message):
    ada, bob = people
    make(sessions, ada, name="laptop")
    with pytest.raises(TokenError, match=message):
        make(sessions, ada, name=name)
    make(sessions, bob, name="laptop")  # names are unique per user, not across users
    with transaction(sessions) as session:
        assert len(list_tokens(session, ada)) == 1


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        (NOW - dt.timedelta(minutes=1), "already passed"),
        (NOW + dt.timedelta(days=367), "at most 365 days"),
    ],
)
def test_an_expiry_in_the_past_or_past_a_year_is_refused(sessions, people, expires_at, message):
    ada, _ = people
    with pytest.raises(TokenError, match=message):
        make(sessions, ada, name="x", expires_at=expires_at, now=NOW)


def test_the_expiry_is_read_as_days_or_as_a_last_day():
    assert token_expiry("7", NOW) == NOW + dt.timedelta(days=7)
    assert token_expiry(" 90d ", NOW) == NOW + dt.timedelta(days=90)
    assert token_expiry("2025-03-01", NOW) == dt.datetime(2025, 3, 1, 23, 59, 59, tzinfo=dt.timezone.utc)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert token_expiry("2025-03-01", NOW, paris) == dt.datetime(2025, 3, 1, 22, 59, 59, tzinfo=dt.timezone.utc)
    with pytest.raises(TokenError, match="give a number of days"):
        token_expiry("next week", NOW)


def test_an_expired_token_is_refused_and_says_when_it_expired(sessions, people):
    ada, _ = people
    now = dt.datetime.now(dt.timezone.utc)
    token = make(sessions, ada, name="old", expires_at=now + dt.timedelta(days=1), now=now - dt.timedelta(days=5))
    with transaction(sessions) as session:
        assert check_token(session, token).email == "ada@example.org"
    with transaction(sessions) as session:
        row = session.scalars(select(ApiToken)).one()
        row.expires_at = now - dt.timedelta(hours=1)
    with transaction(sessions) as session, pytest.raises(TokenRefused) as refused:
        check_token(session, token)
    assert refused.value.reason == "expired"
    assert abs(refused.value.expired_at - (now - dt.timedelta(hours=1))) < dt.timedelta(seconds=1)
    with transaction(sessions) as session:
        assert user_for_token(session, token) is None


def test_unknown_and_missing_tokens_are_refused_with_their_reason(sessions, people):
    for token, reason in (("grd_never-made", "unknown"), ("", "missing")):
        with transaction(sessions) as session, pytest.raises(TokenRefused) as refused:
            check_token(session, token)
        assert refused.value.reason == reason


def test_a_user_holds_at_most_the_limit_of_live_tokens(sessions, people):
    ada, _ = people
    for n in range(MAX_LIVE_TOKENS):
        make(sessions, ada, name=f"machine {n}")
    with pytest.raises(TokenError, match=f"already have {MAX_LIVE_TOKENS} API tokens"):
        make(sessions, ada, name="one more")
    with transaction(sessions) as session:  # an expired token no longer counts
        row = session.scalars(select(ApiToken).where(ApiToken.name == "machine 0")).one()
        row.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    make(sessions, ada, name="one more")


def test_only_the_owner_revokes_a_token_and_it_stops_working_at_once(sessions, people):
    ada, bob = people
    token = make(sessions, ada, name="laptop")
    with transaction(sessions) as session:
        token_id = list_tokens(session, ada)[0].id
        assert revoke_token(session, bob, token_id) is None
    with transaction(sessions) as session:
        assert user_for_token(session, token) is not None
        assert revoke_token(session, ada, token_id).name == "laptop"
    with transaction(sessions) as session, pytest.raises(TokenRefused) as refused:
        check_token(session, token)
    assert refused.value.reason == "unknown"
