"""A real worker on real Redis builds an assignment's references from the task, and the instructor page says ready."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, Role
from grader.services.accounts import create_user
from grader.services.reference_builds import Request, request_build
from grader.web import create_app
from tests.web.conftest import PASSWORD, csrf_token

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def reference_row(service) -> Assignment:
    with service.sessions() as session:
        return session.scalars(select(Assignment).where(Assignment.slug == "quick-digits")).one()


def wait_for_state(service, states: set[str], timeout: float) -> Assignment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = reference_row(service)
        if row.references_state in states:
            return row
        if all(p.poll() is not None for p in service.workers):
            pytest.fail(f"the worker exited; logs:\n{service.logs()[-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"references are {reference_row(service).references_state}; logs:\n{service.logs()[-4000:]}")


def test_a_worker_builds_the_references_and_the_instructor_page_says_ready(service):
    assignment_id = reference_row(service).id
    assert request_build(service.sessions, service.queue, assignment_id) is Request.SENT
    assert reference_row(service).references_state == "queued"
    service.start_worker()
    row = wait_for_state(service, {"ready", "failed"}, timeout=500)
    assert (row.references_state, row.references_detail) == ("ready", None), row.references_detail
    assert set(row.references) == {"keras", "torch"} and row.references["torch"]["accuracy"] > 0.5
    assert "quick-digits: references ready" in service.logs()

    app = create_app(service.settings, queue=service.queue, test_config={"TESTING": True})
    try:
        with transaction(app.extensions["grader.sessions"]) as session:
            create_user(session, email="prof@example.org", role=Role.INSTRUCTOR, password=PASSWORD)
        client = app.test_client()
        login = {"email": "prof@example.org", "password": PASSWORD, "csrf_token": csrf_token(client)}
        assert client.post("/auth/login", data=login).status_code == 302
        page = client.get("/staff/assignments/").get_data(as_text=True)
    finally:
        app.extensions["grader.engine"].dispose()
    cell = re.search(r'id="row-quick-digits">.*?<td class="references[^"]*">(.*?)</td>', page, re.S).group(1)
    assert (
        '<span class="reference-state">ready</span>' in cell
        and "accuracy: keras\u00a00." in cell
        and "torch\u00a00." in cell
    )
