"""Checks of what a run reports about itself: shown to the student as reported, flagged to staff, never points."""

from __future__ import annotations

import datetime as dt

from grader.models import Role, State
from tests.web.helpers import SCORED_RESULT, add_submission

CHECKED_RESULT = {
    **SCORED_RESULT,
    "checks": [
        {
            "id": "parameter-budget",
            "title": "Parameter budget",
            "metric": "parameters",
            "value": 331530.0,
            "flagged": True,
            "feedback": "Parameter count 331,530 as reported by your run (at most 50,000): outside the limit. "
            "Not scored: your run reports this itself, so staff check it and may adjust your score.",
        }
    ],
}


def _checked(app, user_id: int) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    return add_submission(
        app, user_id, State.SCORED, result=CHECKED_RESULT, outcome="ok", score=8.5, max_score=10.0, finished_at=now
    )


def test_the_student_sees_the_reported_value_against_the_limit_and_that_it_earns_nothing(app, client, auth, accounts):
    student = accounts.add("sam@example.org")
    sid = _checked(app, student)
    auth.login("sam@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "<h2>Checks</h2>" in page
    assert "Parameter count 331,530 as reported by your run (at most 50,000): outside the limit." in page
    assert "never scored by grader" in page
    assert client.get(f"/submissions/{sid}/status.json").get_json()["checks"][0]["value"] == 331530.0


def test_the_grading_log_flags_a_check_for_staff_to_verify(app, client, auth, accounts):
    student = accounts.add("sam@example.org")
    sid = _checked(app, student)
    accounts.add("ta@example.org", Role.TA)
    auth.login("ta@example.org")
    page = client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert "Checks to verify" in page
    assert '<tr class="flagged"><td>Parameter budget</td><td>331,530</td><td><strong>Flagged: check the code' in page
