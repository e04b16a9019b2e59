"""Error responses: JSON under /api/, and a too-large upload shown next to its form."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from grader.web import services

RETRY_AFTER_BUSY = 30  # seconds: when to send again an upload refused because our side could not check it


def init_app(app: Flask) -> None:
    """Register the HTTP error handler."""
    app.register_error_handler(HTTPException, handle_http_error)


def error(message: str, status: int) -> Any:
    """Return a JSON error response."""
    return jsonify(error=message), status


def too_large_message() -> str:
    """Say how large an upload may be."""
    return f"The file is too large: the limit is {services.settings().upload_max_bytes / 1024**2:g} MiB."


def handle_http_error(exc: HTTPException) -> Any:
    """Answer HTTP errors under /api/ as JSON; show a too-large upload next to its form."""
    if request.path.startswith("/api/"):
        message = too_large_message() if exc.code == 413 else (exc.description or exc.name)
        return error(message, exc.code or 500)
    if exc.code == 413 and request.endpoint == "student.submit" and current_user.is_authenticated:
        from grader.web.student import render_assignments

        return render_assignments({(request.view_args or {}).get("slug", ""): too_large_message()}, 413)
    return exc
