"""The `grader` command."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from grader.assignments import list_slugs, load_assignment
from grader.config import Settings, load_client_settings, load_settings
from grader.core.errors import GraderError, SpecError
from grader.demo_command import demo_command
from grader.records_commands import database_transaction, scores_group, tokens_group, users_group
from grader.report import format_report

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
        click.echo(format_report(result.to_json(), f"{assignment.slug} · {path.name}", assignment.spec.kind))


@main.group("references")
def references_group() -> None:
    """The reference solutions' results."""


@references_group.command("build")
@click.argument("slug", required=False)
@click.option("--rebuild", is_flag=True, help="Run them again even when cached.")
@unsafe_option
def references_build(slug: str | None, rebuild: bool, unsafe_no_sandbox: bool) -> None:
    """Run the reference solutions of SLUG (default: every assignment) and cache their metrics."""
    from grader.assignments import REFERENCE_FRAMEWORKS

    settings = load_settings()
    try:
        service = _build_service(settings, unsafe_no_sandbox)
        slugs = [slug] if slug else list_slugs(settings)
        for number, name in enumerate(slugs, 1):
            assignment = load_assignment(name, settings)
            built = {}
            for framework in REFERENCE_FRAMEWORKS:
                cached = not rebuild and framework in service.references.cached(assignment)
                click.echo(f"[{number}/{len(slugs)}] {name} {framework}: {'cached' if cached else 'running'}...")
                started = time.monotonic()
                built[framework] = service.references.metrics(assignment, framework, rebuild)
                took = "" if cached else f" ({time.monotonic() - started:.0f} s)"
                click.echo(
                    f"[{number}/{len(slugs)}] {name} {framework}: {assignment.spec.kind.summary(built[framework])}{took}"
                )
            _store_references(settings, name, built)
    except GraderError as exc:
        _fail(exc, False)


def _store_references(settings: Settings, slug: str, built: dict[str, dict[str, Any]]) -> None:
    """Keep the metrics on the assignment's row too, so the site rescores relative thresholds; say when it cannot."""
    from sqlalchemy.exc import SQLAlchemyError

    from grader.db import make_engine, make_sessions
    from grader.services.references import record_references

    engine = make_engine(settings.database_url)
    try:
        stored = record_references(make_sessions(engine), slug, built)
    except SQLAlchemyError as exc:
        click.echo(
            f"{slug}: cached, but not stored in the database ({type(exc).__name__}): run `grader db upgrade`", err=True
        )
        return
    finally:
        engine.dispose()
    if stored:
        click.echo(f"{slug}: stored in the database, for rescoring on the site")
    else:
        click.echo(f"{slug}: cached only; the database has no such assignment yet (run `grader assignments sync`)")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=5000, show_default=True, help="The port to listen on.")
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks (never in production).")
def serve_command(host: str, port: int, debug: bool) -> None:
    """Serve the web app with Flask's development server (production: gunicorn)."""
    from grader.web import create_app
    from grader.web.headers import SiteRequestHandler

    create_app(load_settings()).run(host=host, port=port, debug=debug, request_handler=SiteRequestHandler)


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


@main.group("assignments")
def assignments_group() -> None:
    """The assignments the site knows."""


@assignments_group.command("sync")
def assignments_sync() -> None:
    """Add new assignment folders to the database and refresh titles and topics (nothing is deleted).

    Then a worker builds the references of every assignment synced, so no
    student's grading waits for them: new or changed ones are run, the others
    read from the worker's cache in a moment.
    """
    from grader.services.catalog import sync_assignments

    settings = load_settings()
    with database_transaction() as session:
        result = sync_assignments(session, settings)
    for line in result.lines():
        click.echo(line)
    _request_reference_builds(settings, [*result.added, *result.updated, *result.unchanged])
    if result.broken:
        sys.exit(1)


def _request_reference_builds(settings: Settings, slugs: list[str]) -> None:
    """Queue a reference build of each assignment for the workers; a broker that is down is said, not fatal."""
    from grader.db import make_engine, make_sessions
    from grader.services.queue import CeleryQueue
    from grader.services.reference_builds import describe_requests, request_builds, stale_after

    if not slugs:
        return
    engine = make_engine(settings.database_url)
    try:
        done = request_builds(
            make_sessions(engine), CeleryQueue(settings.broker_url), slugs, stale=stale_after(settings)
        )
    finally:
        engine.dispose()
    for line, trouble in describe_requests(done, slugs):
        click.echo(line, err=trouble)


@main.command("submit")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--assignment", "slug", required=True, help="The assignment's slug, e.g. digits-mlp.")
@click.option("--server", help="The grader site's address.  [default: $GRADER_SERVER_URL or http://127.0.0.1:5000]")
@click.option("--token", help="Your API token (from the site's account page, /account).  [default: $GRADER_TOKEN]")
@click.option("--wait", is_flag=True, help="Follow the submission until it is graded and print the result.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the id; with --wait, the whole result).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for each answer of the server.")
def submit_command(
    path: Path, slug: str, server: str | None, token: str | None, wait: bool, as_json: bool, timeout: float
) -> None:
    """Upload PATH to a grader server; with --wait, print its result once graded."""
    from grader.client import ClientError, GraderClient

    defaults = load_client_settings()
    server, token = server or defaults.server_url, token or defaults.token
    if not token:
        raise click.UsageError(
            f"no API token: pass --token or set GRADER_TOKEN (make one on your account page: {server.rstrip('/')}/account)"
        )
    client = GraderClient(server, token.strip(), timeout=timeout)
    try:
        submission_id = client.submit(path, slug)
        url = client.submission_url(submission_id)
        if not wait:
            click.echo(
                json.dumps({"id": submission_id, "url": url}) if as_json else f"submission {submission_id}: {url}"
            )
            return
        if not as_json:
            click.echo(f"submission {submission_id}: {url}")
        announce = None if as_json else (lambda body: click.echo(f"  {body.get('state')}", err=True))
        result = client.wait(submission_id, on_change=announce)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(format_report(result, f"{slug} · {path.name} · submission {submission_id}"))
    if result.get("state") == "error":
        sys.exit(2)  # grading failed on the server's side: the same code as `grader grade`


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


for command in (demo_command, users_group, tokens_group, scores_group):
    main.add_command(command)


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
