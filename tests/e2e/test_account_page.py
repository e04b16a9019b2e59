"""In Chromium: a student makes an API token on the account page, uses it with the API and revokes it;
a TA reads the submitted code on the grading log (highlighted, its script inert) and downloads it.

gunicorn serves a migrated SQLite database and a blob store written directly (no grading runs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests

from grader.models import Assignment, Role, State
from grader.services.accounts import create_user
from grader.storage import BlobStore
from tests.databases import migrated_database
from tests.e2e.pages import PASSWORD, log_in, serve, submission, watched_page, writing
from tests.web.helpers import SCORED_RESULT

pytestmark = pytest.mark.slow  # a gunicorn site and Chromium

CODE = (
    b"import torch\n\n"
    b"def build_model(input_dim, num_classes):\n"
    b'    """</pre><script>document.title = "pwned"</script>"""\n'
    b"    return torch.nn.Linear(input_dim, num_classes)\n"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """gunicorn with a TA, a student and the student's scored upload (its bytes in the blob store)."""
    tmp = tmp_path_factory.mktemp("account-site")
    with migrated_database("sqlite", tmp) as database_url:
        sha = BlobStore(tmp / "data" / "blobs").put(CODE)
        with writing(database_url) as session:
            create_user(session, email="ta@example.org", role=Role.TA, password=PASSWORD)
            student = create_user(session, email="sam@example.org", role=Role.STUDENT, password=PASSWORD)
            assignment = Assignment(slug="digits-mlp", title="Digits", topic=1, published=True)
            session.add(assignment)
            session.flush()
            now = dt.datetime.now(dt.timezone.utc)
            scored = submission(
                student, assignment, filename="my model.py", blob_sha256=sha, size_bytes=len(CODE),
                state=State.SCORED, result=SCORED_RESULT, score=8.5, max_score=10.0, outcome="ok",
                started_at=now, finished_at=now,
            )  # fmt: skip
            session.add(scored)
            session.flush()
            submission_id = scored.id
        with serve(tmp, database_url) as url:
            yield url, submission_id


def test_a_student_makes_a_token_uses_it_and_revokes_it(site, browser, tmp_path):
    from playwright.sync_api import expect

    url, _ = site
    page, problems = watched_page(browser)
    log_in(page, url, "sam@example.org")
    page.get_by_role("link", name="sam@example.org").click()
    expect(page.get_by_role("heading", name="Account")).to_be_visible()
    expect(page.get_by_text("No API tokens yet.")).to_be_visible()

    page.get_by_label("Name").fill("laptop")
    page.get_by_role("combobox", name="Expires").select_option("7")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("New API token").input_value()
    assert token.startswith("grd_")
    command = page.get_by_label("Command to submit").input_value()
    assert command == f"grader submit model.py --assignment SLUG --server {url} --token {token}"
    page.locator('button[data-copy="new-token"]').click()
    expect(page.locator('button[data-copy="new-token"]')).to_have_text("Copied")  # app.js ran
    page.screenshot(path=str(tmp_path / "account.png"), full_page=True)

    answer = requests.get(f"{url}/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200 and [a["slug"] for a in answer.json()["assignments"]] == ["digits-mlp"]

    page.goto(f"{url}/account")
    row = page.locator("table.tokens tbody tr", has_text="laptop")
    expect(row).to_contain_text("UTC")
    assert token not in page.content()  # shown once only
    row.get_by_role("button", name="Revoke laptop").click()
    expect(page.get_by_text('Token "laptop" revoked')).to_be_visible()
    refused = requests.get(f"{url}/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"].endswith(f"Make a new one on your account page: {url}/account")
    assert problems == []


def test_a_ta_reads_the_submitted_code_on_the_log_and_downloads_it(site, browser, tmp_path):
    from playwright.sync_api import expect

    url, submission_id = site
    page, problems = watched_page(browser)
    log_in(page, url, "ta@example.org")
    page.goto(f"{url}/staff/submissions/{submission_id}")
    code = page.get_by_role("region", name="Submitted code")
    expect(code.locator(".highlight")).to_contain_text('"""</pre><script>document.title = "pwned"</script>"""')
    keyword = code.locator(".highlight .kn").first
    expect(keyword).to_have_text("import")
    assert keyword.evaluate("k => getComputedStyle(k).fontWeight") == "700"  # code.css loaded under the policy
    assert page.title() != "pwned"
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download").click()
    download = caught.value
    assert download.suggested_filename == "my_model.py"
    saved = tmp_path / "got.py"
    download.save_as(saved)
    assert saved.read_bytes() == CODE
    page.screenshot(path=str(tmp_path / "log.png"), full_page=True)
    assert problems == []
