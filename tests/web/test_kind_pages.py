"""The result page's section of each task kind, rendered from results as grader stored them."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.db import transaction
from grader.models import Assignment, State, Submission

STORED = Path(__file__).resolve().parents[1] / "fixtures" / "stored"


def add_result(app, user_id: int, slug: str, task: str, result: dict) -> int:
    """A scored submission of a new assignment of kind `task`, carrying `result`."""
    now = dt.datetime.now(dt.timezone.utc)
    with transaction(app.extensions["grader.sessions"]) as session:
        assignment = session.scalars(select(Assignment).where(Assignment.slug == slug)).first()
        if assignment is None:
            assignment = Assignment(slug=slug, title=slug, topic=7, task=task)
            session.add(assignment)
            session.flush()
        submission = Submission(
            user_id=user_id, assignment_id=assignment.id, filename="agent.py", blob_sha256="0" * 64, size_bytes=10,
            state=State.SCORED, result=result, outcome=result["outcome"], score=result["score"],
            max_score=result["max_score"], started_at=now, finished_at=now,
        )  # fmt: skip
        session.add(submission)
        session.flush()
        return submission.id


@pytest.fixture
def rl_result() -> dict:
    """A hand-written CartPole controller graded for real (10 episodes): every return 500."""
    return json.loads((STORED / "rl-hand-controller.json").read_text())


def test_rl_page_shows_grader_s_episodes_beside_a_random_policy_and_the_replay(app, client, auth, accounts, rl_result):
    sid = add_result(app, accounts.add("ada@example.org"), "cartpole", "rl", rl_result)
    auth.login("ada@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "grader played 10 episodes on its own environment" in page
    row = re.search(r"<th scope=\"row\">Mean return</th><td>(.*?)</td>\s*<td>(.*?)</td>", page)
    random_mean = rl_result["metrics"]["baselines"]["random"]["mean_return"]
    assert row.groups() == ("500", f"{random_mean:.4g}")
    assert 'aria-label="Return of each of 10 evaluation episodes; solved at 475; random policy at' in page
    assert page.count("episode 1: return 500") == 1 and page.count("<title>episode ") == 10
    assert 'src="data:image/gif;base64,R0lGOD' in page  # a GIF, drawn by grader's own environment
    assert "<summary>Observations and actions (the first 200 of 500 steps)</summary>" in page


def test_rl_page_without_rendering_opens_the_text_trace(app, client, auth, accounts, rl_result):
    del rl_result["metrics"]["replay"]["gif"]
    sid = add_result(app, accounts.add("ada@example.org"), "cartpole", "rl", rl_result)
    auth.login("ada@example.org")
    page = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "data:image/gif" not in page
    assert "<details open>" in page and "<td>[0.033, -0.01, 0.002, 0.025]</td><td>1</td><td>1</td>" in page
