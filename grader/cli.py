"""The `grader` command."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from sqlalchemy.orm import Session

from grader.assignments import list_slugs, load_assignment
from grader.config import Settings, load_settings
from grader.core.errors import GraderError, SpecError
from grader.core.grading import GradeResult
from grader.core.outcomes import Status
from grader.models import Role

log = logging.getLogger("grader")


def _build_service(settings: Settings, unsafe_no_sandbox: bool):
    """The grading service on a checked sandbox (imported late: torch is slow to import)."""
    from grader.sandbox import check_sandbox_available, make_runner
    from grader.services.grading import GradingService

    sandbox = {"bwrap_path": settings.bwrap, "cgroup_parent": settings.cgroup_parent, "host_uid": settings.sandbox_uid}
    check_sandbox_available(**sandbox, unsafe_no_sandbox=unsafe_no_sandbox)
    return GradingService(settings, make_runner(**sandbox, unsafe_no_sandbox=unsafe_no_sandbox))


unsafe_option = click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="Run WITHOUT bubblewrap and cgroups. Only for your own trusted code on a machine without them.",
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what grader does to stderr.")
def main(verbose: bool) -> None:
    """grader: the autograder of a deep-learning course."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@main.command("grade")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--assignment", "slug", required=True, help="The assignment's slug, e.g. digits-mlp.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a report.")
@unsafe_option
def grade_command(path: Path, slug: str, as_json: bool, unsafe_no_sandbox: bool) -> None:
    """Grade PATH (a .py, .zip or .ipynb) as the service would."""
    settings = load_settings()
    try:
        assignment = load_assignment(slug, settings)
        result = _build_service(settings, unsafe_no_sandbox).grade_file(path, assignment)
    except GraderError as exc:
        _fail(exc, as_json)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        click.echo(format_result(result, f"{assignment.slug} · {path.name}"))


@main.group("references")
def references_group() -> None:
    """The reference solutions' results."""


@references_group.command("build")
@click.argument("slug", required=False)
@click.option("--rebuild", is_flag=True, help="Run them again even when cached.")
@unsafe_option
def references_build(slug: str | None, rebuild: bool, unsafe_no_sandbox: bool) -> None:
    """Run the reference solutions of SLUG (default: every assignment) and cache their metrics."""
    settings = load_settings()
    try:
        service = _build_service(settings, unsafe_no_sandbox)
        for name in [slug] if slug else list_slugs(settings):
            assignment = load_assignment(name, settings)
            for framework, metrics in service.references.build(assignment, rebuild).items():
                click.echo(
                    f"{name} {framework}: accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}, parameters {metrics['parameters']}"
                )
    except GraderError as exc:
        _fail(exc, False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=5000, show_default=True, help="The port to listen on.")
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks (never in production).")
def serve_command(host: str, port: int, debug: bool) -> None:
    """Serve the web app with Flask's development server (production: gunicorn)."""
    from grader.web import create_app

    create_app(load_settings()).run(host=host, port=port, debug=debug)


@main.group("users")
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

    with _account_transaction() as session:
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

    with _account_transaction() as session:
        try:
            users = import_roster(session, roster.read())
        except RosterError as exc:
            raise click.ClickException(f"{roster.name}: nothing imported:\n" + str(exc)) from exc
    click.echo(f"imported {len(users)} users from {roster.name}")


@main.group("tokens")
def tokens_group() -> None:
    """API tokens for the API and `grader submit`."""


@tokens_group.command("create")
@click.argument("email")
def tokens_create(email: str) -> None:
    """Create an API token for EMAIL and print it on the last line (it is stored only hashed)."""
    from grader.services.accounts import create_token, find_user

    with _account_transaction() as session:
        user = find_user(session, email)
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        token = create_token(session, user)
    click.echo(f"API token for {user.email} (shown once; keep it secret):")
    click.echo(token)


@main.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database at GRADER_DATABASE_URL to the latest schema (safe to repeat)."""
    from grader.migrate import upgrade

    url = load_settings().database_url
    upgrade(url)
    click.echo(f"database at {_without_password(url)} is up to date")


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command("worker")
@click.option("--loglevel", default="info", show_default=True, help="Celery's log level.")
def worker_command(loglevel: str) -> None:
    """Start a grading worker: one slot per GPU (the gpu, cpu and rerun queues), or one CPU slot (cpu, rerun)."""
    from grader.gpu import probe_gpus
    from grader.services.queue import worker_queues

    gpus = probe_gpus()
    if gpus:
        click.echo(f"grader worker: {len(gpus)} GPU(s): " + ", ".join(f"{g.index}: {g.name}" for g in gpus), err=True)
    else:
        click.echo("grader worker: no GPU found; serving only the cpu queue (and reruns), one slot", err=True)
    from workers.celery_app import app

    queues = ",".join(worker_queues(len(gpus)))
    app.worker_main(["worker", f"--loglevel={loglevel}", f"--queues={queues}", f"--concurrency={max(1, len(gpus))}"])


@contextlib.contextmanager
def _account_transaction() -> Iterator[Session]:
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


def _fail(exc: GraderError, as_json: bool) -> None:
    """Report an infrastructure or configuration failure and exit non-zero."""
    kind = "configuration" if isinstance(exc, SpecError) else "infrastructure"
    if as_json:
        click.echo(
            json.dumps(
                {
                    "status": "error",
                    "outcome": exc.outcome.value,
                    "student_message": exc.student_message,
                    "staff_detail": exc.staff_detail,
                }
            )
        )
    click.echo(f"grader: {kind} error: {exc.staff_detail}", err=True)
    sys.exit(2)


def format_result(result: GradeResult, title: str) -> str:
    """The human report of one graded submission."""
    ev = result.evaluation
    score = "-" if result.score is None else f"{result.score:g}"
    lines = [title, f"status: {result.status.value} ({ev.outcome.value})   score: {score} / {result.max_score:g}", ""]
    if result.status is not Status.SCORED:
        lines += [ev.student_message, ""]
    lines.append("criteria:")
    for c in result.criteria:
        lines.append(f"  {c['points']:>6g} / {c['max_points']:<4g} {c['title']}")
        lines.append(f"                 {c['feedback']}")
    if ev.metrics:
        m = ev.metrics
        params = "unknown" if m.get("parameters") is None else f"{m['parameters']:,}"
        lines += ["", f"metrics: accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}, parameters {params}"]
    r = ev.resources
    if r:
        lines.append(
            f"resources: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, peak memory {r['peak_memory_bytes'] / 1024**2:.0f} MiB"
        )
    if result.status is not Status.SCORED and ev.log:
        tail = ev.log.rstrip().splitlines()[-15:]
        lines += ["", "last lines of the log:", *("  " + line for line in tail)]
    return "\n".join(lines)


def run() -> None:
    """The `grader` command: exit without tearing down torch's modules (about 0.3 s per command)."""
    try:
        main()
        code = 0
    except SystemExit as exc:  # click ends every command this way
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
