"""Security headers on every response: what a page may load, who may frame it, no MIME sniffing, no referrer.

The `Server` header is the server's: gunicorn sends `gunicorn` without a
version; Werkzeug's development server (`grader serve`, `grader demo`) would
send its version and Python's unless run with `SiteRequestHandler`.

The pages load one script and one stylesheet from /static, poll status.json,
draw charts as inline SVG and show images as data: URLs (the rl replay GIF).
No page has an inline <script>, <style> or on* handler, so scripts are
'self' only; `style="..."` attributes (a few layout tweaks and chart cells)
are the one inline thing allowed, and they cannot run code.
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.serving import WSGIRequestHandler

POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
# A student's log, served as plain text: nothing in it may load or run, even if a browser took it for HTML.
RAW_TEXT_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response."""
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """Set the policy (a stricter one for plain text) and the fixed headers, unless a view set its own."""
    policy = RAW_TEXT_POLICY if response.mimetype == "text/plain" else POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class SiteRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without the versions in `Server` (`Werkzeug/3.1.9 Python/3.11.2`)."""

    def version_string(self) -> str:
        return "grader"
