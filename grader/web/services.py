"""The adapters the web side uses: the grading queue, the blob store and the upload use case.

Each is built on first use from settings (so the app imports nothing of Celery
at start) unless the caller passed one in, as tests do with a queue double.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from grader.config import Settings
from grader.logs import bind_submission


def init_app(app: Flask, settings: Settings, queue: Any = None) -> None:
    """Keep the queue (or how to build it) on the app."""
    app.extensions["grader.queue"] = queue


def warm_queue(app: Flask) -> None:
    """Build the grading queue's producer when a server process starts, not on its first upload.

    A broker that is down at start is logged; the site still serves, and uploads fail as they would.
    """
    with app.app_context():
        built = queue()
    try:
        getattr(built, "warm", lambda: None)()
    except Exception:
        app.logger.warning("could not connect to the broker at start; uploads will retry", exc_info=True)


def settings() -> Settings:
    """Return the app's settings."""
    return current_app.config["GRADER_SETTINGS"]


def queue() -> Any:
    """Return the grading queue, building the Celery one on first use."""
    ext = current_app.extensions
    if ext.get("grader.queue") is None:
        from grader.services.queue import CeleryQueue

        ext["grader.queue"] = CeleryQueue(settings().broker_url)
    return ext["grader.queue"]


def store() -> Any:
    """Return the blob store, building it on first use."""
    ext = current_app.extensions
    if ext.get("grader.store") is None:
        from grader.storage import BlobStore

        root = settings().data_dir / "blobs"
        root.mkdir(mode=0o700, parents=True, exist_ok=True)  # students' code: the service user's alone
        ext["grader.store"] = BlobStore(root)
    return ext["grader.store"]


def accept_upload(*, user_id: int, assignment_slug: str, filename: str, data: bytes) -> int:
    """Validate, store, commit and enqueue an upload; return the submission id."""
    from grader.services.uploads import accept_upload as accept

    submission_id = accept(
        current_app.extensions["grader.sessions"],
        store(),
        queue(),
        user_id=user_id,
        assignment_slug=assignment_slug,
        filename=filename,
        data=data,
        settings=settings(),
    )
    bind_submission(submission_id)
    current_app.logger.info("submission %s: accepted for %s (%s)", submission_id, assignment_slug, filename)
    return submission_id
