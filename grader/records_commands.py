"""The `grader` commands that write people and their records: users, API tokens, staff-entered scores."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
from sqlalchemy.orm import Session

from grader.config import load_settings
from grader.core.errors import SpecError
from grader.models import Role


@contextlib.contextmanager
def database_transaction() -> Iterator[Session]:
    """A transaction on the configured database, with a clear error when it has no tables."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from grader.db import make_engine, make_sessions, transaction

    engine = make_engine(load_settings().database_url)
    try:
        with transaction(make_sessions(engine)) as session:
            yield session
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(f"the database is not ready (run `grader db upgrade`): {exc.orig}") from exc
    finally:
        engine.dispose()


@click.group("users")
def users_group() -> None:
    """Accounts of students, TAs and instructors."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="student", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="The user's password.")
@click.option("--name", default="", help="The user's full name.")
def users_add(email: str, role: str, password: str, name: str) -> None:
    """Add a user with a hashed password."""
    from grader.services.accounts import AccountError, create_user

    with database_transaction() as session:
        try:
            user = create_user(session, email=email, role=Role(role), password=password, name=name)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"added {user.email} ({user.role.value})")


@users_group.command("import")
@click.argument("roster", type=click.File("r", encoding="utf-8-sig"))
def users_import(roster) -> None:  # noqa: ANN001 - a click file
    """Add every user of a CSV roster (email,name,role,password), or none if any line is wrong."""
    from grader.services.roster import RosterError, import_roster

    with database_transaction() as session:
        try:
            users = import_roster(session, roster.read())
        except RosterError as exc:
            raise click.ClickException(f"{roster.name}: nothing imported:\n" + str(exc)) from exc
    click.echo(f"imported {len(users)} users from {roster.name}")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for the API and `grader submit`."""


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", help='What the token is for ("laptop"), unique among the user\'s tokens.  [default: token N]')
@click.option(
    "--expires",
    default="30",
    show_default=True,
    help="Days until it expires (at most 365), or the last day it works as YYYY-MM-DD (UTC).",
)
def tokens_create(email: str, name: str | None, expires: str) -> None:
    """Create an API token for EMAIL and print it on the last line (it is stored only hashed).

    Users make their own on the site's account page (/account); this is for staff and scripts.
    """
    from grader.models import utcnow
    from grader.services.accounts import TokenError, create_token, find_user, list_tokens, token_expiry

    with database_transaction() as session:
        user = find_user(session, email)
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        now = utcnow()
        try:
            expires_at = token_expiry(expires, now)
            token = create_token(session, user, name=name, expires_at=expires_at, now=now)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
        label = list_tokens(session, user.id)[0].name  # the newest: this one
    click.echo(f'API token "{label}" for {user.email}, valid until {expires_at:%Y-%m-%d %H:%M} UTC')
    click.echo("(shown once; keep it secret):")
    click.echo(token)


@click.group("scores")
def scores_group() -> None:
    """Scores staff enter for course components (the theory exam, the article summaries)."""


@scores_group.command("import")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--component", required=True, help="The component's id in rubrics/course.yaml, e.g. theory.")
@click.option(
    "--by", "entered_by", default=None, help="Email of the staff member entering them (default: the first instructor)."
)
def scores_import(sheet: Path, component: str, entered_by: str | None) -> None:
    """Import SHEET (CSV with the columns email,score; 0 to 100) into COMPONENT: every row, or none."""
    from grader.core.scores_csv import ScoresFileError
    from grader.services.course_grades import load_course
    from grader.services.staff_scores import import_scores

    settings = load_settings()
    with database_transaction() as session:
        try:
            course = load_course(settings)  # only its staff components matter here, not the assignments it names
            staff = _staff_member(session, entered_by)
            report = import_scores(session, course, component, sheet.read_bytes(), sheet.name, staff.id)
        except ScoresFileError as exc:
            raise click.ClickException(f"{sheet.name}: nothing imported: " + exc.problem) from exc
        except SpecError as exc:
            raise click.ClickException(f"nothing imported: {exc.staff_detail}") from exc
    click.echo(f"imported {sheet.name} into {component}: {report.summary(component)}")


def _staff_member(session: Session, email: str | None):  # noqa: ANN202 - a User row
    """The TA or instructor an import is recorded under: the one named, else the first instructor."""
    from sqlalchemy import select

    from grader.models import User
    from grader.services.accounts import find_user

    if email is not None:
        user = find_user(session, email)
        if user is None or not user.role.is_staff:
            raise click.ClickException(f"{email} is not a TA's or an instructor's account; name one with --by")
        return user
    user = session.scalars(select(User).where(User.role == Role.INSTRUCTOR).order_by(User.id).limit(1)).first()
    if user is None:
        raise click.ClickException("no instructor account to record the import under; add one, or name a TA with --by")
    return user
