"""Messages after an action carry their category: a success is green and announced politely, a refusal red and
announced at once (they were all red before, successes included)."""

from __future__ import annotations

import pytest

from tests.e2e.pages import log_in, watched_page
from tests.security.test_browser_policy import site  # noqa: F401 (the fixture: its instructor and assignment)

pytestmark = [pytest.mark.slow]

GREEN, RED = "rgb(236, 253, 243)", "rgb(254, 243, 242)"


def test_a_refusal_is_red_and_a_success_green(site, browser):  # noqa: F811
    url, _, _ = site
    page, problems = watched_page(browser)
    page.goto(f"{url}/auth/login")
    page.get_by_label("Email").fill("prof@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    refusal = page.locator(".flash")
    assert refusal.inner_text() == "Wrong email or password."
    assert refusal.get_attribute("role") == "alert"
    assert refusal.evaluate("e => getComputedStyle(e).backgroundColor") == RED

    log_in(page, url, "prof@example.org")
    page.goto(f"{url}/staff/assignments/")
    page.get_by_role("button", name="Hide").first.click()
    success = page.locator(".flash")
    assert success.inner_text().startswith("digits-mlp is now hidden from students.")
    assert success.get_attribute("role") == "status"
    assert success.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    assert problems == []
