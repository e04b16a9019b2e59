"""What the browser tests share: a gunicorn site over a database they write directly, and pages that watch it.

Such a site grades nothing (no broker, no worker): a test module writes the rows
a worker would leave, serves them, and checks what a user sees and what the
browser allows. Chromium itself is the `browser` fixture of tests/e2e/conftest.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from grader.db import make_engine, make_sessions, transaction
from grader.models import Assignment, Submission, User
from tests.e2e.conftest import BIN, PASSWORD, free_port, start, stop, wait_until_up

__all__ = ["PASSWORD", "log_in", "serve", "site_environ", "submission", "watched_page", "writing"]


def site_environ(tmp: Path, database_url: str, **extra: str) -> dict[str, str]:
    """A site's settings: its data folder in `tmp`, its database, and any other GRADER_* values."""
    return {"GRADER_DATA_DIR": str(tmp / "data"), "GRADER_DATABASE_URL": database_url, **extra}


@contextlib.contextmanager
def serve(tmp: Path, database_url: str, **extra: str) -> Iterator[str]:
    """Serve the migrated `database_url` with one gunicorn worker; yield its URL once `/up` answers."""
    port, log = free_port(), tmp / "web.log"
    command = [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "grader.wsgi:app"]
    web = start(command, site_environ(tmp, database_url, **extra), log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, web, log)
        yield url
    finally:
        stop(web)


@contextlib.contextmanager
def writing(database_url: str) -> Iterator[Session]:
    """A session in one transaction on `database_url`, committed on leaving; the engine is disposed after."""
    engine = make_engine(database_url)
    try:
        with transaction(make_sessions(engine)) as session:
            yield session
    finally:
        engine.dispose()


def submission(user: User, assignment: Assignment, **columns: Any) -> Submission:
    """A row of `user`'s upload to `assignment`; its bytes are a placeholder, since no page here reads them."""
    columns = {"filename": "m.py", "blob_sha256": "0" * 64, "size_bytes": 1, **columns}
    return Submission(user_id=user.id, assignment_id=assignment.id, **columns)


def watched_page(browser, **options: Any):
    """A new page whose Content-Security-Policy violations and script errors are collected in `problems`."""
    page = browser.new_page(**options)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def log_in(page, url: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the form and wait for the home page, as a user would."""
    page.goto(f"{url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
