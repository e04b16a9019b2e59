"""`grader demo`: the whole service on one machine, for a first look (production runs gunicorn and workers)."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path

import click

from grader.config import Settings, load_settings
from grader.core.errors import GraderError

log = logging.getLogger("grader")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=5000, show_default=True, help="The port to listen on.")
@click.option("--grace", default=30.0, show_default=True, help="Seconds a running grading may take to finish at stop.")
def demo_command(host: str, port: int, grace: float) -> None:
    """Run the whole service on this machine: database, broker, a worker, the site and demo accounts."""
    from grader.services.demo import WORKER_LOG, banner, start_worker, stop_gracefully

    settings = load_settings()
    listener = _listen(host, port)
    _check_sandbox_for_demo(settings)
    accounts, token, course = _prepare_demo(settings)
    log_path = settings.data_dir / WORKER_LOG
    worker = start_worker([sys.executable, "-m", "grader.cli", "worker"], log_path, dict(os.environ))
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    try:
        server = _demo_server(settings, listener, host, port)
        click.echo(banner(url, accounts, token, log_path, settings.data_dir, course), nl=True)
        code = _serve_until_stopped(server, worker, log_path)
    finally:
        click.echo(f"grader demo: stopping the worker (up to {grace:g} s for a running grading)...", err=True)
        stop_gracefully(worker, grace)
        listener.close()
    click.echo("grader demo: stopped", err=True)
    sys.exit(code)


def _check_sandbox_for_demo(settings: Settings) -> None:
    """Refuse to start a demo whose worker could not grade anything."""
    from grader.sandbox import check_sandbox_available

    try:
        check_sandbox_available(settings.bwrap, settings.cgroup_parent, host_uid=settings.sandbox_uid)
    except GraderError as exc:
        raise click.ClickException(
            f"cannot grade on this machine: {exc.staff_detail}\n"
            "Install bubblewrap (apt-get install bubblewrap, or run scripts/install.sh) and try again."
        ) from exc


def _listen(host: str, port: int):  # noqa: ANN202 - a socket
    """Bind the site's port first, so a taken port stops the demo before anything starts."""
    import socket

    try:
        return socket.create_server((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another program, or a grader demo already running): "
                f"stop it, or choose another port with `grader demo --port {port + 1}`"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _prepare_demo(settings: Settings):  # noqa: ANN202 - (accounts, token, course listing)
    """Migrate the database, prepare the broker, then load the assignments and the demo accounts."""
    from grader.db import make_engine, make_sessions, transaction
    from grader.migrate import upgrade
    from grader.services import demo

    upgrade(settings.database_url)
    demo.prepare_broker(settings.broker_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessions(engine)) as session:
            synced, accounts, token = demo.prepare_demo_course(session, settings)
            course = demo.course_listing(session)
        built = demo.queue_reference_builds(make_sessions(engine), settings, synced)  # after the commit
    finally:
        engine.dispose()
    for line in [*(f"assignments {line}" for line in synced.lines()), *built]:
        click.echo(line, err=True)
    return accounts, token, course


def _demo_server(settings: Settings, listener, host: str, port: int):  # noqa: ANN001, ANN202
    """Werkzeug's threaded server on the bound socket (enough for a demo; production runs gunicorn)."""
    from werkzeug.serving import make_server

    from grader.web import create_app
    from grader.web.headers import SiteRequestHandler

    if not log.isEnabledFor(logging.INFO):  # without -v, no line per request (pages poll every 2 s)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return make_server(
        host, port, create_app(settings), threaded=True, fd=listener.fileno(), request_handler=SiteRequestHandler
    )


def _serve_until_stopped(server, worker, log_path: Path) -> int:  # noqa: ANN001
    """Serve until Ctrl-C or SIGTERM (0), or until the worker dies (1)."""
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="grader-demo-web", daemon=True)
    thread.start()
    code = 0
    while not stop.wait(1.0):
        if worker.poll() is not None:
            click.echo(f"grader demo: the worker exited with code {worker.returncode}; see {log_path}", err=True)
            code = 1
            break
    server.shutdown()
    thread.join(timeout=10)
    return code
