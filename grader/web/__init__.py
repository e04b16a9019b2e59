"""The Flask site and HTTP API: `create_app` builds it; nothing is built at import time."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from grader import logs
from grader.config import Settings, load_settings

MULTIPART_SLACK = 64 * 1024  # form fields and boundaries around the file itself


def create_app(
    settings: Settings | None = None, *, queue: Any = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the app: database, accounts, CSRF, security headers and the blueprints."""
    from grader.web import (
        account,
        api,
        auth,
        charts,
        database,
        errors,
        gradebook,
        grades,
        headers,
        health,
        instructor,
        review,
        services,
        staff,
        student,
    )

    settings = settings or load_settings()
    make_private(settings.data_dir)
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key or _stored_secret_key(settings.data_dir),
        MAX_CONTENT_LENGTH=settings.upload_max_bytes + MULTIPART_SLACK,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),  # also how long a signature holds
        GRADER_SETTINGS=settings,
    )
    if test_config:
        app.config.from_mapping(test_config)
    if settings.proxy_hops:  # the client's address and scheme as the proxies in front saw them
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    logs.init_app(app, settings.log_format)
    database.init_app(app, settings)
    services.init_app(app, settings, queue)
    auth.init_app(app)
    for module in (errors, headers, health, api, student, staff, review, grades, gradebook, instructor, charts):
        module.init_app(app)
    account.init_app(app)
    return app


def make_private(data_dir: Path) -> None:
    """Make data_dir (the database, uploads, keys, logs) the service user's alone: the folder 0700, its files 0600.

    Other processes (the CLI, a worker) may have created it first with the
    usual 0755/0644; nothing else on the machine needs to read it.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (data_dir, *data_dir.iterdir()):
        info = path.lstat()
        if info.st_uid != os.geteuid() or stat.S_ISLNK(info.st_mode):
            continue  # not ours to change (a mounted volume's other files)
        private = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & private)


def _stored_secret_key(data_dir: Path) -> str:
    """Return the secret key kept in data_dir, generating it on first use.

    Several server processes may start at once: each writes a candidate to its
    own file and links it into place; the first link wins and every process
    reads the same key (a reader never sees a half-written file).
    """
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=data_dir, prefix=".secret_key.", delete=False) as candidate:
            os.fchmod(candidate.fileno(), 0o600)
            candidate.write(secrets.token_hex(32))
        try:
            os.link(candidate.name, path)
        except FileExistsError:
            pass  # another process won
        finally:
            os.unlink(candidate.name)
    return path.read_text().strip()
