"""A client of API v1 for `grader submit`: upload a file, follow it until it is final.

Every failure the caller can meet (server unreachable or slow, refused token,
unknown assignment, too large a file, a refusal with the server's reason) is a
ClientError whose message is one line saying what happened and what to do;
requests' own exceptions never leave this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

FINAL_STATES = ("scored", "failed", "error")


class ClientError(Exception):
    """A request to the grader server failed; the message says why and what to do."""


class GraderClient:
    """API v1 of one server, with one token."""

    def __init__(self, server: str, token: str, *, timeout: float = 30.0, http: requests.Session | None = None):
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.http = http or requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def submission_url(self, submission_id: int) -> str:
        """The page where a student follows the submission in a browser."""
        return f"{self.server}/submissions/{submission_id}"

    def assignments(self) -> list[dict[str, Any]]:
        """Return the open assignments."""
        return self._json("GET", "/api/v1/assignments").get("assignments", [])

    def submit(self, path: Path, slug: str) -> int:
        """Upload `path` to assignment `slug`; return the new submission's id."""
        slugs = [a.get("slug") for a in self.assignments()]
        if slug not in slugs:
            known = ", ".join(s for s in slugs if s) or "none"
            raise ClientError(f"{self.server} has no open assignment {slug!r}; open assignments: {known}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ClientError(f"cannot read {path}: {exc.strerror or exc}") from None
        body = self._json("POST", "/api/v1/submissions", data={"assignment": slug}, files={"file": (path.name, data)})
        if not isinstance(body.get("id"), int):
            raise ClientError(f"{self.server} accepted the upload but sent no submission id: {body}")
        return body["id"]

    def submission(self, submission_id: int) -> dict[str, Any]:
        """Return the submission as the API shows it."""
        return self._json("GET", f"/api/v1/submissions/{submission_id}")

    def wait(
        self,
        submission_id: int,
        *,
        poll_seconds: float = 2.0,
        timeout: float | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the submission is final and return it; `on_change` hears each new state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            body = self.submission(submission_id)
            if on_change and body.get("state") != last:
                on_change(body)
                last = body.get("state")
            if body.get("state") in FINAL_STATES:
                return body
            if deadline is not None and time.monotonic() > deadline:
                raise ClientError(
                    f"submission {submission_id} is still {body.get('state')} after {timeout:g} s; "
                    f"follow it at {self.submission_url(submission_id)}"
                )
            time.sleep(poll_seconds)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request and return its JSON body, mapping every failure to a ClientError."""
        url = self.server + path
        try:
            response = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.exceptions.Timeout:
            raise ClientError(f"{self.server} did not answer within {self.timeout:g} s; try again later") from None
        except requests.exceptions.ConnectionError:
            if "files" in kwargs:  # the server was reachable a moment ago: it cut the upload short
                raise ClientError(
                    f"{self.server} closed the connection while the file was sent; "
                    "it may be larger than the server's upload limit"
                ) from None
            raise ClientError(
                f"cannot connect to {self.server}: is the grader server running there? "
                "Set the address with --server or GRADER_SERVER_URL"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ClientError(f"the request to {url} failed: {exc}") from None
        if response.ok:
            try:
                body = response.json()
            except ValueError:
                raise ClientError(f"{url} did not answer with JSON: is {self.server} a grader server?") from None
            if not isinstance(body, dict):
                raise ClientError(f"{url} answered with unexpected JSON: {str(body)[:200]}")
            return body
        raise ClientError(describe_http_error(response, self.server))


def describe_http_error(response: requests.Response, server: str) -> str:
    """One line for a refused request: the server's own reason where it gave one, and what to do."""
    try:
        reason = response.json().get("error") or ""
    except (ValueError, AttributeError):
        reason = ""
    status = response.status_code
    if status == 401:
        return (
            f"The server refused your token (expired or revoked). Make a new one on your account page: {server}/account"
        )
    if status == 404 and not reason:
        return f"{response.url} was not found: is {server} a grader server (API v1)?"
    if status == 413:
        return reason or "the file is too large for the server's upload limit"
    if status >= 500:
        return f"the server failed ({status}); try again later or tell the course staff"
    return f"refused ({status}): {reason or response.reason}"
