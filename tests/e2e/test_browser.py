"""A student in headless Chromium: log in, upload the reference through the form, watch it turn to scored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, REFERENCE, STUDENT, api

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (scripts/install.sh --test) for browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_a_student_watches_an_upload_turn_to_scored(stack, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{stack.url}/auth/login")
    page.get_by_label("Email").fill(STUDENT)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()

    card = page.locator("section#quick-digits")
    card.locator("input[type=file]").set_input_files(str(REFERENCE))
    card.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"/submissions/\d+$"))
    submission_id = int(page.url.rsplit("/", 1)[1])
    status = page.locator(".status")
    expect(status).to_have_text(re.compile(r"^(queued \(position \d+\)|running \d+ s.*)$"))  # live, not final yet

    expect(status).to_have_text(re.compile(r"^scored: \d+ / 100$"), timeout=240_000)
    body = api(stack.token).get(f"{stack.url}/api/v1/submissions/{submission_id}", timeout=10).json()
    assert status.inner_text() == f"scored: {body['score']:g} / {body['max_score']:g}"
    expect(page.get_by_role("cell", name="Test accuracy")).to_be_visible()  # the page reloaded with the result
    page.close()
