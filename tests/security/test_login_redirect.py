"""Item 14: after login, `next` leads only to a path of this site, as the browser will read it."""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import pytest

from tests.security.conftest import PASSWORD, csrf_token

SITE = "https://grader.example"
OFF_SITE = [
    "/\t/evil.example",  # the issue's %2F%09%2Fevil.example: browsers drop the tab
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x01//evil.example",
    "/\\evil.example",  # a backslash is a slash to browsers
    "\\\\evil.example",
    "\\/evil.example",
    "//evil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
]
ON_SITE = ["/submissions", "/submissions/3?tab=log#top", "/staff/submissions?student=a%2Fb", "/..//x"]


def login_to(client, accounts, target: str) -> str:
    """Log in with `next=target` (percent-encoded as a browser sends it); return the Location answered."""
    accounts.add("ada@example.org")
    data = {"email": "ada@example.org", "password": PASSWORD, "csrf_token": csrf_token(client)}
    response = client.post(f"/auth/login?next={quote(target, safe='')}", data=data)
    assert response.status_code == 302
    return response.headers["Location"]


def browser_lands_on(location: str) -> str:
    """Where a browser on SITE goes for this Location (it drops tabs and newlines first, as urljoin does not)."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urlsplit(urljoin(SITE + "/auth/login", cleaned)).netloc


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_leading_off_site_goes_home(client, accounts, target):
    location = login_to(client, accounts, target)
    assert location == "/"


@pytest.mark.parametrize("target", ON_SITE)
def test_next_on_this_site_is_followed(client, accounts, target):
    location = login_to(client, accounts, target)
    assert location == target and browser_lands_on(location) == "grader.example"


def test_the_issues_probe_answers_a_path_of_this_site(client, accounts):
    accounts.add("ada@example.org")
    data = {"email": "ada@example.org", "password": PASSWORD, "csrf_token": csrf_token(client)}
    response = client.post("/auth/login?next=%2F%09%2Fevil.example", data=data)
    assert browser_lands_on(response.headers["Location"]) == "grader.example"
