"""Accounts: users with hashed passwords and API tokens stored only as sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from grader.models import ApiToken, Role, User, utcnow

TOKEN_USE_PRECISION = dt.timedelta(minutes=1)


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
    """Return the user if the password matches, else None."""
    user = find_user(session, email)
    if user is None or not check_password_hash(user.password_hash, password):
        return None
    return user


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
    if last is None or now - (last if last.tzinfo else last.replace(tzinfo=now.tzinfo)) > TOKEN_USE_PRECISION:
        row.last_used_at = now  # at most one write a minute per token, so polling stays read-only
    return row.user
