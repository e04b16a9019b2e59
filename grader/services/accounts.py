"""Accounts: users with hashed passwords, login sessions and API tokens, the last two stored only as sha256.

A login session is a row the site's cookie points at: deleting it ends the
login wherever the cookie went. Logout deletes one; a password change and a
staff member's revocation delete all of a user's.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from grader.models import ApiToken, LoginSession, Role, User, utcnow

TOKEN_USE_PRECISION = dt.timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8  # for passwords users choose themselves (staff-made ones follow the roster)


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why."""


def normalize_email(email: str) -> str:
    """Return the canonical form of an email address."""
    return email.strip().lower()


def create_user(session: Session, *, email: str, role: Role, password: str, name: str = "") -> User:
    """Add a user with a hashed password; raise AccountError if the email is taken or invalid."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 320:
        raise AccountError(f"{email!r} is not an email address")
    if not password:
        raise AccountError("the password is empty")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    """Return the user with this email, if any."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def verify_password(session: Session, email: str, password: str) -> User | None:
    """Return the user if the password matches, else None.

    An unknown email costs one password hash too, so the answer's timing does
    not tell which emails have accounts.
    """
    user = find_user(session, email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


@functools.cache
def _dummy_hash() -> str:
    """A hash made the way real ones are, to check unknown emails against."""
    return generate_password_hash(secrets.token_hex(16))


def change_password(session: Session, user: User, new_password: str) -> None:
    """Set a new password and end every login session of the user; AccountError if it is too short."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the new password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(new_password)
    end_all_sessions(session, user.id)


def start_session(session: Session, user: User, lifetime: dt.timedelta) -> str:
    """Open a login session for `user` lasting `lifetime`; return its token (kept only in the cookie)."""
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))  # keep the table small
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=now + lifetime))
    session.flush()
    return token


def user_for_session(session: Session, token: str) -> User | None:
    """Return the user of a live login session, or None (unknown, ended or expired)."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_token(token)))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return session.get(User, row.user_id)


def end_session(session: Session, token: str) -> None:
    """End one login session (logout)."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_token(token)))


def end_all_sessions(session: Session, user_id: int) -> int:
    """End every login session of a user; return how many there were."""
    return session.execute(delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount


def as_utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User) -> str:
    """Create an API token for `user`; return it (the only time it is seen in clear)."""
    token = "grd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """Return the user a token belongs to, recording its use, or None."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is None or now - as_utc(last) > TOKEN_USE_PRECISION:
        row.last_used_at = now  # at most one write a minute per token, so polling stays read-only
    return row.user
