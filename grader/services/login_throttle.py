"""The failed-login throttle: per account and per client address, over a sliding window.

Failures live in the database, so every web process and machine counts the
same ones. An attempt made while refused is neither checked nor counted: a
guesser learns nothing from it, and the window frees itself as failures age.
Keys are sha256 digests, so the table holds no addresses and no mistyped emails.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from grader.config import Settings
from grader.models import LoginFailure
from grader.services.accounts import as_utc, normalize_email


@dataclasses.dataclass(frozen=True)
class ThrottleSpec:
    """How many failures an account and an address may have within `window` before logins are refused."""

    account_limit: int
    address_limit: int
    window: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleSpec:
        return cls(
            settings.login_account_limit,
            settings.login_address_limit,
            dt.timedelta(seconds=settings.login_window_seconds),
        )


def _account(email: str) -> str:
    return hashlib.sha256(f"account:{normalize_email(email)}".encode()).hexdigest()


def _address(address: str) -> str:
    return hashlib.sha256(f"address:{address}".encode()).hexdigest()


def retry_after(session: Session, spec: ThrottleSpec, email: str, address: str, now: dt.datetime) -> int | None:
    """Return the seconds until a login for `email` from `address` may be tried, or None if it may be now."""
    waits = []
    for key, limit in ((_account(email), spec.account_limit), (_address(address), spec.address_limit)):
        newest = session.scalars(
            select(LoginFailure.at)
            .where(LoginFailure.key == key, LoginFailure.at > now - spec.window)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        ).all()
        if len(newest) >= limit:  # allowed again once the limit-th newest failure leaves the window
            waits.append((as_utc(newest[-1]) + spec.window - now).total_seconds())
    return max(1, math.ceil(max(waits))) if waits else None


def record_failure(session: Session, spec: ThrottleSpec, email: str, address: str, now: dt.datetime) -> None:
    """Count a failed login against the account and the address; forget their failures older than the window."""
    keys = (_account(email), _address(address))
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= now - spec.window))
    session.add_all(LoginFailure(key=key, at=now) for key in keys)


def forget_account_failures(session: Session, email: str) -> None:
    """Clear an account's failures after a correct password (the address's stay counted)."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == _account(email)))
