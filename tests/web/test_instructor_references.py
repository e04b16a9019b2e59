"""The instructor assignments page: each assignment's reference build, its button, and builds on publish and upload."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from sqlalchemy import select, update

from grader.config import PROJECT_ROOT
from grader.db import transaction
from grader.models import Assignment, Role, utcnow
from tests.web.conftest import csrf_token

PAGE = "/staff/assignments/"
BUTTON = "/staff/assignments/digits-mlp/references"
MEASURED = {"accuracy": 0.97, "macro_f1": 0.969, "parameters": 9000}


def post(client, path, data=None, **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **(data or {})}, **kwargs)


def digits_id(app) -> int:
    with app.extensions["grader.sessions"]() as session:
        return session.scalars(select(Assignment.id).where(Assignment.slug == "digits-mlp")).one()


def set_row(app, **values) -> None:
    with transaction(app.extensions["grader.sessions"]) as session:
        session.execute(update(Assignment).where(Assignment.slug == "digits-mlp").values(**values))


def references_cell(client) -> str:
    page = client.get(PAGE).get_data(as_text=True)
    match = re.search(r'id="row-digits-mlp">.*?<td class="references[^"]*">(.*?)</td>', page, re.S)
    assert match, page
    return match.group(1)


@pytest.fixture
def instructor(accounts, auth):
    accounts.add("prof@example.org", Role.INSTRUCTOR)
    auth.login("prof@example.org")


@pytest.mark.parametrize("role", [Role.STUDENT, Role.TA])
def test_only_instructors_may_build(client, accounts, auth, queue, role):
    accounts.add("who@example.org", role)
    auth.login("who@example.org")
    assert post(client, BUTTON).status_code == 403
    assert queue.reference_builds == []


def test_the_button_queues_one_build_and_a_second_press_none(app, client, instructor, queue):
    assert "not built" in references_cell(client)
    response = post(client, BUTTON, follow_redirects=True)
    assert "Its references are being built by a worker" in response.get_data(as_text=True)
    assert queue.reference_builds == [digits_id(app)]
    cell = references_cell(client)
    assert re.search(r"queued since \d{4}-\d\d-\d\d \d\d:\d\d UTC", cell) and "Build references" not in cell
    again = post(client, BUTTON, follow_redirects=True).get_data(as_text=True)
    assert "already queued or building" in again and queue.reference_builds == [digits_id(app)]


def test_the_page_shows_building_ready_and_failed(app, client, instructor):
    started = dt.datetime(2025, 2, 1, 14, 2, tzinfo=dt.timezone.utc)
    set_row(app, references_state="building", references_at=utcnow().replace(hour=0, minute=0))
    assert re.search(r"building since \d{4}-\d\d-\d\d 00:00 UTC", references_cell(client))
    set_row(app, references_state="ready", references_at=started, references={"keras": MEASURED, "torch": MEASURED})
    cell = references_cell(client)
    assert "ready" in cell and "accuracy: keras\u00a00.970 \u00b7 torch\u00a00.970" in cell
    assert "Build references" in cell
    set_row(app, references_state="failed", references_detail="reference_torch.py of digits-mlp did not run: timeout")
    cell = references_cell(client)
    assert "failed at 2025-02-01 14:02 UTC" in cell and "Why it failed (staff only)" in cell
    assert "reference_torch.py of digits-mlp did not run: timeout" in cell and "Build references" in cell


def test_publishing_queues_a_build_once(app, client, instructor, queue):
    post(client, "/staff/assignments/digits-mlp/publish", {"published": "0"})
    assert queue.reference_builds == []
    page = post(client, "/staff/assignments/digits-mlp/publish", {"published": "1"}, follow_redirects=True)
    assert "Its references are being built" in page.get_data(as_text=True)
    post(client, "/staff/assignments/digits-mlp/publish", {"published": "0"})
    post(client, "/staff/assignments/digits-mlp/publish", {"published": "1"})
    assert queue.reference_builds == [digits_id(app)]


def test_publishing_from_the_settings_form_queues_a_build_too(app, client, instructor, queue):
    post(client, "/staff/assignments/digits-mlp/settings", {"published": "on", "due_at": "2025-02-13T23:59"})
    post(client, "/staff/assignments/digits-mlp/settings", {"published": "on", "due_at": "2025-02-14T23:59"})
    assert queue.reference_builds == [digits_id(app)]


def test_an_uploaded_assignment_is_queued_for_its_references(app, client, instructor, queue):
    buffer = io.BytesIO()
    folder = PROJECT_ROOT / "tests" / "fixtures" / "assignments" / "quick-digits"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.writestr(f"digits-two/{path.name}", path.read_bytes())
        rubric = (PROJECT_ROOT / "tests" / "fixtures" / "rubrics" / "quick-digits.yaml").read_text()
        archive.writestr("digits-two/rubric.yaml", rubric.replace("quick-digits", "digits-two"))
    data = {"file": (io.BytesIO(buffer.getvalue()), "digits-two.zip")}
    response = post(client, "/staff/assignments/upload", data, content_type="multipart/form-data")
    assert response.status_code == 302
    with app.extensions["grader.sessions"]() as session:
        row = session.scalars(select(Assignment).where(Assignment.slug == "digits-two")).one()
        assert (row.references_state, queue.reference_builds) == ("queued", [row.id])
