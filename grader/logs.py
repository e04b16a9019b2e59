"""Structured logs: every record made while handling a submission carries its id.

Code that handles a submission wraps the work in `submission_context(id)` (the
grading task) or calls `bind_submission(id)` (a web request about one
submission); a filter on the handler copies the id from a context variable onto
every record, whichever logger made it: grader's, Celery's, a library's. The
format is text by default, one line with `submission=<id>` in it, or one JSON
object per line with `GRADER_LOG_FORMAT=json`, for a log collector to index.

Context variables follow the code that sets them, not threads it starts: a
thread that logs about a submission passes the id itself (`extra=`) or sets it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from typing import IO, Any

current_submission: contextvars.ContextVar[int | None] = contextvars.ContextVar("submission_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(submission)s%(message)s"
HANDLER_NAME = "grader"


@contextlib.contextmanager
def submission_context(submission_id: int) -> Iterator[None]:
    """Tag every record made inside the block with this submission's id."""
    token = current_submission.set(int(submission_id))
    try:
        yield
    finally:
        current_submission.reset(token)


def bind_submission(submission_id: int | None) -> contextvars.Token[int | None]:
    """Tag the rest of this context's records (a web request) with the id; reset with the token."""
    return current_submission.set(None if submission_id is None else int(submission_id))


class SubmissionFilter(logging.Filter):
    """Put `submission_id` (None outside a submission) and its text form on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "submission_id", None) is None:  # an explicit extra={"submission_id": ...} wins
            record.submission_id = current_submission.get()
        record.submission = "" if record.submission_id is None else f"submission={record.submission_id} "
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, process, submission_id, message (and exc_info)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "pid": record.process,
            "submission_id": getattr(record, "submission_id", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, default=str)


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever sys.stderr is when a record comes (servers and test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler with the submission filter and the chosen format ('text' or 'json'), on `stream` or stderr."""
    handler = logging.StreamHandler(stream) if stream is not None else CurrentStderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.addFilter(SubmissionFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(log_format: str, level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Send every logger's records through one handler on the root logger; calling it again replaces it.

    Plain console handlers already there (`logging.basicConfig`'s, as `grader`
    installs before starting a worker) go, so no line is written twice; other
    handlers (files, a test's capture) stay.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    root.addHandler(make_handler(log_format, stream))
    root.setLevel(level)


def init_app(app: Any, log_format: str) -> None:
    """Log the web app through the same handler, tagging each request about a submission with its id.

    Views with a `submission_id` argument are tagged before they run; a view
    that creates a submission calls bind_submission once it has the id.
    """
    from flask import g, request

    configure_logging(log_format)

    @app.before_request
    def _tag_request() -> None:
        g.grader_log_token = bind_submission((request.view_args or {}).get("submission_id"))

    @app.teardown_request
    def _untag_request(_exc: BaseException | None = None) -> None:
        token = g.pop("grader_log_token", None)
        if token is not None:
            try:
                current_submission.reset(token)
            except ValueError:  # set in another context (a streamed response); the next request sets its own
                current_submission.set(None)
