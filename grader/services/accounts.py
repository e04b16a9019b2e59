"""Accounts: users with hashed passwords, login sessions and API tokens, the last two stored only as sha256.

A login session is a row the site's cookie points at: deleting it ends the
login wherever the cookie went. Logout deletes one; a password change and a
staff member's revocation delete all of a user's.

API tokens are what `grader submit` and the API authenticate with. Each has
a name (unique among its owner's tokens) and an expiry (at most a year away),
so a token copied to a lab machine and forgotten stops working on its own;
its owner lists and revokes them on the account page. A user holds at most
MAX_LIVE_TOKENS unexpired tokens at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from grader.models import ApiToken, LoginSession, Role, User, utcnow

TOKEN_USE_PRECISION = dt.timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8  # for passwords users choose themselves (staff-made ones follow the roster)
TOKEN_NAME_MAX = 100  # the column's length
DEFAULT_TOKEN_DAYS = 30
TOKEN_DAY_CHOICES = (7, 30, 90)  # what the account page offers besides a date
MAX_TOKEN_DAYS = 365
MAX_LIVE_TOKENS = 20


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why."""


class TokenError(AccountError):
    """An API token cannot be created as asked; the message (for its owner) says why and what to do."""


class TokenRefused(Exception):
    """A token that does not let its bearer in: `reason` is "missing", "unknown" (never made, or revoked) or "expired"."""

    def __init__(self, reason: str, expired_at: dt.datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.expired_at = expired_at


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


def create_token(
    session: Session,
    user: User,
    *,
    name: str | None = None,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Create an API token for `user`; return it (the only time it is seen in clear).

    `name` defaults to the first free "token N"; `expires_at` to DEFAULT_TOKEN_DAYS
    from now. TokenError (with a message for the user) when the name is empty,
    too long or taken, the expiry is not in the next year, or the user already
    holds MAX_LIVE_TOKENS live tokens.
    """
    now = now or utcnow()
    name = _free_name(session, user.id) if name is None else check_token_name(session, user.id, name)
    expires_at = check_token_expiry(expires_at or now + dt.timedelta(days=DEFAULT_TOKEN_DAYS), now)
    if live_token_count(session, user.id, now) >= MAX_LIVE_TOKENS:
        raise TokenError(
            f"You already have {MAX_LIVE_TOKENS} API tokens that have not expired, the most one account may hold. "
            "Revoke one you no longer use, then create the new one."
        )
    token = "grd_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, token_hash=hash_token(token), name=name, created_at=now, expires_at=expires_at)
    )
    session.flush()
    return token


def check_token_name(session: Session, user_id: int, name: str) -> str:
    """Return the name stripped; TokenError when it is empty, too long or already one of the user's tokens'."""
    name = " ".join(name.split())
    if not name:
        raise TokenError('Give the token a name, such as the machine it is for ("laptop", "lab PC").')
    if len(name) > TOKEN_NAME_MAX:
        raise TokenError(f"The name is {len(name)} characters long; use at most {TOKEN_NAME_MAX}.")
    taken = session.scalar(select(ApiToken.id).where(ApiToken.user_id == user_id, ApiToken.name == name))
    if taken is not None:
        raise TokenError(f'You already have a token named "{name}": pick another name or revoke that token first.')
    return name


def check_token_expiry(expires_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Return the expiry in UTC; TokenError unless it lies after `now` and at most MAX_TOKEN_DAYS ahead."""
    expires_at = as_utc(expires_at)
    if expires_at <= now:
        raise TokenError("The expiry date has already passed: pick a date after today.")
    if expires_at > now + dt.timedelta(days=MAX_TOKEN_DAYS + 1):  # a date a year ahead, to the end of its day
        raise TokenError(f"A token may last at most {MAX_TOKEN_DAYS} days: pick an earlier expiry date.")
    return expires_at


def token_expiry(choice: str, now: dt.datetime, tz: dt.tzinfo = dt.timezone.utc) -> dt.datetime:
    """Read an expiry as people give it: a number of days ("30") or a date ("2025-03-01", to the end of that day in `tz`).

    TokenError saying what to type when it is neither; the bounds are checked by check_token_expiry.
    """
    text = choice.strip().lower().removesuffix("d").removesuffix(" days").strip()
    if text.isdigit() and len(text) <= 4:
        return now + dt.timedelta(days=int(text))
    try:
        day = dt.date.fromisoformat(choice.strip())
    except ValueError:
        raise TokenError(
            f"{choice.strip()[:40]!r} is not an expiry: give a number of days (7, 30, 90) or a date as YYYY-MM-DD."
        ) from None
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz) - dt.timedelta(seconds=1)
    return end_of_day.astimezone(dt.timezone.utc)


def _free_name(session: Session, user_id: int) -> str:
    """The first of "token 1", "token 2", ... that the user has not used, for tokens made without a name."""
    used = set(session.scalars(select(ApiToken.name).where(ApiToken.user_id == user_id)))
    return next(f"token {n}" for n in range(1, len(used) + 2) if f"token {n}" not in used)


def live_token_count(session: Session, user_id: int, now: dt.datetime) -> int:
    """How many of the user's tokens have not expired."""
    live = (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now)
    return session.scalar(select(func.count(ApiToken.id)).where(ApiToken.user_id == user_id, live)) or 0


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (expired ones too, until revoked)."""
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, user_id: int, token_id: int) -> ApiToken | None:
    """Delete one of the user's tokens and return it; None when the user has no token with that id."""
    row = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id))
    if row is not None:
        session.delete(row)
        session.flush()
    return row


def token_expired(row: ApiToken, now: dt.datetime) -> bool:
    """Whether the token's expiry has passed (tokens without one never expire)."""
    return row.expires_at is not None and as_utc(row.expires_at) <= now


def check_token(session: Session, token: str) -> User:
    """Return the user a token belongs to, recording its use; TokenRefused saying why when it does not work."""
    if not token:
        raise TokenRefused("missing")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise TokenRefused("unknown")
    now = utcnow()
    if token_expired(row, now):
        raise TokenRefused("expired", as_utc(row.expires_at))  # type: ignore[arg-type]
    last = row.last_used_at
    if last is None or now - as_utc(last) > TOKEN_USE_PRECISION:
        row.last_used_at = now  # at most one write a minute per token, so polling stays read-only
    return row.user


def user_for_token(session: Session, token: str) -> User | None:
    """Return the user a working token belongs to, recording its use, or None (missing, unknown, revoked, expired)."""
    try:
        return check_token(session, token)
    except TokenRefused:
        return None
