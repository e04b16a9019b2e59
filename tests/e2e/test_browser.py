"""A student in headless Chromium: log in, upload the reference through the form, watch it turn to scored."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import PASSWORD, REFERENCE, STUDENT, api

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_a_student_watches_an_upload_turn_to_scored(stack, browser, tmp_path_factory):
    from playwright.sync_api import expect

    artifacts = tmp_path_factory.mktemp("browser")
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

    # The charts of a classification: drawn on the server as inline SVG, from the stored result.
    epochs = len(body["curve"])
    assert epochs >= 2, body["curve"]  # the reference's own loop reported each epoch
    curve = page.get_by_role("img", name=re.compile(r"^Training curve: loss for epochs 1 to \d+$"))
    expect(curve).to_be_visible()
    assert curve.locator("polyline").count() == 1 and curve.locator("circle").count() == epochs
    matrix = page.get_by_role("img", name=re.compile(r"^Confusion matrix"))
    expect(matrix).to_be_visible()
    counts = [int(text) for text in matrix.locator("g.cells text").all_text_contents()]
    assert sum(counts) == sum(map(sum, body["metrics"]["confusion_matrix"])) == 450  # every test digit, once
    bars = page.get_by_role("img", name=re.compile(r"^Accuracy of each of 10 classes"))
    expect(bars).to_be_visible()
    shown = [text for text in bars.locator("text").all_text_contents() if re.fullmatch(r"\d\.\d\d|n/a", text)]
    assert shown == [f"{value:.2f}" for value in body["metrics"]["per_class_accuracy"]]
    assert page.evaluate("performance.getEntriesByType('resource').every(e => e.name.startsWith(location.origin))")
    page.screenshot(path=str(artifacts / "result-page.png"), full_page=True)
    page.close()


# (assignment, fixture) -> the feedback each task kind adds to the result page
KIND_PAGES = {
    ("char-lm-quick", "passes_keras.py"): (
        "Against the baselines",
        "table",
        "Bigram: the next character given the last one",
    ),
    ("digits-generate-quick", "passes_torch.py"): ("Your samples", "img", "label 0, "),
    ("cartpole-quick", "random_policy.py"): (
        "Return of each episode",
        "img",
        "Return of each of 10 evaluation episodes",
    ),
}
STACK_ASSIGNMENTS = ("quick-digits", *dict.fromkeys(slug for slug, _ in KIND_PAGES))  # what these tests grade


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_each_task_kind_shows_its_feedback_without_breaking_the_page_s_policy(stack, browser, tmp_path_factory):
    from playwright.sync_api import expect

    from tests.e2e.conftest import FIXTURES, upload, wait_final

    artifacts = tmp_path_factory.mktemp("kinds")
    ids = {
        key: upload(stack.url, stack.token, FIXTURES / "submissions" / key[0].removesuffix("-quick") / key[1], key[0])
        for key in KIND_PAGES
    }
    page = browser.new_page()
    refused = []  # the Content-Security-Policy must allow everything these pages draw (inline SVG, data: images)
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.goto(f"{stack.url}/auth/login")
    page.get_by_label("Email").fill(STUDENT)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    for (slug, fixture), (heading, role, name) in KIND_PAGES.items():
        body = wait_final(stack.url, stack.token, ids[slug, fixture], stack.logs)
        assert body["state"] == "scored", body
        page.goto(f"{stack.url}/submissions/{ids[slug, fixture]}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        if role == "table":
            expect(page.get_by_role("rowheader", name=name)).to_be_visible()
        else:
            expect(page.get_by_role("img", name=re.compile(re.escape(name))).first).to_be_visible()
        page.screenshot(path=str(artifacts / f"{slug}.png"), full_page=True)
    sample = page.locator("img.replay")  # the rl page replays episode 1 as a GIF drawn by grader's environment
    expect(sample).to_be_visible()
    assert page.evaluate("document.querySelector('img.replay').naturalWidth") == 240
    assert refused == []
    page.close()
