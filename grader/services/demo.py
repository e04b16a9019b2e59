"""The embedded default: everything `grader demo` needs on one machine, with no servers to install.

The demo runs on the configured database (SQLite in data_dir by default) and
kombu's SQLAlchemy transport on SQLite as the Celery broker. Its accounts are
ordinary users with passwords kept in data_dir, so a restarted demo prints
credentials that still work; deleting data_dir starts it over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
import signal
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from grader.config import Settings
from grader.core.errors import SpecError
from grader.models import Assignment, Role, utcnow
from grader.services.accounts import create_token, create_user, find_user, user_for_token, verify_password
from grader.services.assignment_dates import form_moment, mirror_policy, policy_data
from grader.services.catalog import SyncResult, sync_assignments
from grader.services.course_grades import course_timezone
from grader.services.queue import (
    CPU_QUEUE,
    GPU_QUEUE,
    RERUN_QUEUE,
    SQLALCHEMY_TRANSPORT_OPTIONS,
    is_sqlalchemy_broker,
)

CREDENTIALS_FILE = "demo_credentials.json"
WORKER_LOG = "demo-worker.log"
DEMO_WEEK = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class DemoAccount:
    """One demo user and the password printed for it."""

    email: str
    name: str
    role: Role
    password: str


DEMO_PEOPLE = (
    ("instructor@example.org", "Ines Instructor", Role.INSTRUCTOR),
    ("ta@example.org", "Tariq Assistant", Role.TA),
    ("ada@example.org", "Ada Student", Role.STUDENT),
    ("alan@example.org", "Alan Student", Role.STUDENT),
)


def read_credentials(data_dir: Path) -> dict[str, Any]:
    """Return the stored demo passwords and token ({} before the first demo, or if the file is unreadable)."""
    try:
        stored = json.loads((data_dir / CREDENTIALS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def write_credentials(data_dir: Path, credentials: dict[str, Any]) -> None:
    """Keep the demo passwords and token readable by their owner only."""
    path = data_dir / CREDENTIALS_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(credentials, indent=2))


def ensure_demo_accounts(session: Session, passwords: dict[str, str]) -> list[DemoAccount]:
    """Create the demo users if missing; make each one's password the stored one (new ones get a fresh one).

    A demo user whose password was changed gets the printed one back: the
    banner's promise is that its credentials work.
    """
    accounts = []
    for email, name, role in DEMO_PEOPLE:
        password = passwords.get(email) or secrets.token_urlsafe(9)
        user = find_user(session, email)
        if user is None:
            create_user(session, email=email, role=role, password=password, name=name)
        elif verify_password(session, email, password) is None:
            user.password_hash = generate_password_hash(password)
        accounts.append(DemoAccount(email, name, role, password))
    session.flush()
    return accounts


def ensure_demo_token(session: Session, email: str, stored: str | None) -> str:
    """Return the stored API token of `email` if it still works, else a new one."""
    if stored:
        owner = user_for_token(session, stored)
        if owner is not None and owner.email == email:
            return stored
    user = find_user(session, email)
    if user is None:
        raise LookupError(f"no demo user {email}")
    return create_token(session, user)


def prepare_demo_course(session: Session, settings: Settings) -> tuple[SyncResult, list[DemoAccount], str]:
    """Load the assignments, date them, and make sure the demo accounts and token work; keep their secrets."""
    stored = read_credentials(settings.data_dir)
    synced = sync_assignments(session, settings)
    try:
        tz = course_timezone(settings)
    except SpecError:  # the web pages say what is wrong with the course file; the demo still starts
        tz = dt.timezone.utc
    schedule_demo_dates(session, tz=tz)
    accounts = ensure_demo_accounts(session, stored.get("passwords") or {})
    student = next(a for a in accounts if a.role is Role.STUDENT)
    token = ensure_demo_token(session, student.email, stored.get("token"))
    write_credentials(settings.data_dir, {"passwords": {a.email: a.password for a in accounts}, "token": token})
    return synced, accounts, token


def schedule_demo_dates(session: Session, now: dt.datetime | None = None, tz: dt.tzinfo = dt.timezone.utc) -> list[str]:
    """Give assignments without a deadline a week from now, open from now, late work for a day; return their slugs.

    Only the demo does this: a real course sets its own dates, and a date
    staff set is never overwritten. The dates are written as a policy (in the
    course's time zone, to the minute, as staff would type them), through the
    one writer of the mirrored columns, so the assignment list, the settings
    form and the grades page show the same moments. A row an older demo dated
    in its columns alone gets that date written down as its policy.
    """
    opens = (now or utcnow()).replace(second=0, microsecond=0)
    scheduled = []
    for row in session.scalars(select(Assignment).order_by(Assignment.slug)):
        if row.policy is not None:  # (a JSON null and an SQL NULL both read as None: filter here, not in SQL)
            continue
        data = policy_data(row, tz)
        if data is None:
            data = {"published": bool(row.published), **demo_policy(opens, tz)}
            scheduled.append(row.slug)
        mirror_policy(row, data, tz)
    session.flush()
    return scheduled


def demo_policy(opens: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
    """The demo's time settings: open now, due in a week, late work for a day at 10% per started hour."""
    return {
        "opens_at": form_moment(opens, tz),
        "due_at": form_moment(opens + DEMO_WEEK, tz),
        "late": {"penalty_percent": 10, "per": "hour", "last_accepted": "1d"},
    }


def queue_reference_builds(
    sessions: sessionmaker[Session], settings: Settings, synced: SyncResult, queue: Any = None
) -> list[str]:
    """Have the worker build every assignment's references as the demo starts, not in a student's first job.

    The builds wait at low priority: a student's grading that comes first
    builds only its own assignment's, and says so on its status. Return what
    became of the requests, one line each.
    """
    from grader.services.queue import CeleryQueue
    from grader.services.reference_builds import describe_requests, request_builds, stale_after

    slugs = [*synced.added, *synced.updated, *synced.unchanged]
    queue = queue if queue is not None else CeleryQueue(settings.broker_url)
    done = request_builds(sessions, queue, slugs, stale=stale_after(settings))
    return [line for line, _trouble in describe_requests(done, slugs)]


def sqlite_broker_path(broker_url: str) -> Path | None:
    """The file of an SQLAlchemy broker on SQLite, or None for any other broker."""
    if not is_sqlalchemy_broker(broker_url):
        return None
    url = make_url(broker_url.split("+", 1)[1])
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def prepare_broker(broker_url: str) -> None:
    """Create the SQLAlchemy broker's tables and queues before any process uses it.

    kombu creates its tables on first use; web and worker starting together
    would race to create them. WAL (persistent in the file) lets the worker
    poll while the web app publishes.
    """
    path = sqlite_broker_path(broker_url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite3.connect(path, timeout=30)
    try:
        database.execute("PRAGMA journal_mode=WAL")
    finally:
        database.close()
    from kombu import Connection

    with Connection(broker_url, transport_options=SQLALCHEMY_TRANSPORT_OPTIONS) as connection:
        channel = connection.default_channel
        for queue in (GPU_QUEUE, CPU_QUEUE, RERUN_QUEUE):
            channel.queue_declare(queue=queue)


def start_worker(command: list[str], log_path: Path, environ: dict[str, str]) -> subprocess.Popen:
    """Start a worker process in its own session, its output appended to `log_path`.

    Its own session: a Ctrl-C in the terminal reaches only the demo, which
    then stops the worker in order instead of every process at once.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, env=environ, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_gracefully(process: subprocess.Popen, grace: float) -> int:
    """Ask a process started in its own session for a warm shutdown; after `grace` s kill its group.

    A warm shutdown lets a running grading finish and clean its sandbox up;
    the group kill also ends slot processes a dying main process left behind.
    Tests stop their servers the same way. Return the exit code.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return process.wait()


def course_listing(session: Session) -> list[str]:
    """One line per assignment the demo serves: slug, curriculum topic, kind and title."""
    rows = session.scalars(select(Assignment).order_by(Assignment.topic, Assignment.slug))
    return [f"{row.slug:<20} topic {row.topic}  {row.task:<15} {row.title}" for row in rows]


def banner(
    url: str, accounts: list[DemoAccount], token: str, log_path: Path, data_dir: Path, course: Sequence[str] = ()
) -> str:
    """The block printed once the demo is up: where it is, who can log in, what to grade, how to submit."""
    width = max(len(a.email) for a in accounts)
    student = next(a for a in accounts if a.role is Role.STUDENT)
    lines = [
        "",
        "=" * 72,
        f"grader demo: open {url}",
        "",
        f"  {'role':<11} {'email':<{width}}  password",
        *(f"  {a.role.value:<11} {a.email:<{width}}  {a.password}" for a in accounts),
        "",
        f"  API token of {student.email}: {token}",
        f"  grader submit MODEL.py --assignment SLUG --server {url} --token {token} --wait",
        "",
        *([f"  assignments ({len(course)}):", *(f"    {line}" for line in course), ""] if course else []),
        f"  worker log: {log_path}",
        f"  data:       {data_dir} (credentials in {CREDENTIALS_FILE}; delete the folder to start over)",
        "  Press Ctrl-C to stop.",
        "=" * 72,
    ]
    return "\n".join(lines)
