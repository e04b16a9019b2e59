"""A TA overrides a score in headless Chromium; then the student logs in and sees the new score and the comment.

Then the TA re-runs the overridden upload: the page asks whether the override
stays in force, and the student reads one notice that says which score counts.
The server is gunicorn on a migrated SQLite database; the scored submission is
written straight into the database as a worker leaves it (no training needed:
what is tested is the review flow, not grading).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from grader.db import make_engine, make_sessions
from grader.models import Assignment, Override, State, Submission, User
from tests.databases import migrated_database
from tests.e2e.conftest import fixture_environ, grader
from tests.e2e.pages import PASSWORD, log_in, serve, submission, writing
from tests.web.helpers import SCORED_RESULT

pytestmark = pytest.mark.slow  # a gunicorn site and Chromium
TA, TA_NAME, STUDENT = "tess@example.org", "Tess Assistant", "sam@example.org"
REASON = "The test set had a mislabelled class; full marks for accuracy."


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """gunicorn serving a database with a TA, a student and the student's scored submission: (url, database url)."""
    tmp = tmp_path_factory.mktemp("override-site")
    with migrated_database("sqlite", tmp) as database_url:
        env = {**fixture_environ(tmp, tmp / "cache"), "GRADER_DATABASE_URL": database_url}
        for args in (
            ("assignments", "sync"),
            ("users", "add", TA, "--role", "ta", "--password", PASSWORD, "--name", TA_NAME),
            ("users", "add", STUDENT, "--password", PASSWORD, "--name", "Sam Student"),
        ):
            done = grader(*args, env=env)
            assert done.returncode == 0, done.stderr + done.stdout
        with serve(tmp, database_url, **env) as url:
            yield url, database_url


def add_scored_submission(database_url: str) -> int:
    """Write a scored submission of the student as a worker would; return its id."""
    with writing(database_url) as session:
        student = session.scalars(select(User).where(User.email == STUDENT)).one()
        assignment = session.scalars(select(Assignment).order_by(Assignment.slug)).first()
        now = dt.datetime.now(dt.timezone.utc)
        row = submission(
            student, assignment, filename="model.py", size_bytes=10, state=State.SCORED, result=SCORED_RESULT,
            outcome="ok", score=8.5, max_score=10.0, started_at=now - dt.timedelta(seconds=5), finished_at=now,
            attempts=1, worker="host:1",
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def test_a_ta_overrides_a_score_and_the_student_sees_it_with_the_comment(site, browser):
    from playwright.sync_api import expect

    url, database_url = site
    sid = add_scored_submission(database_url)

    ta = browser.new_context().new_page()
    log_in(ta, url, TA)
    ta.get_by_role("link", name="Submissions", exact=True).click()
    ta.get_by_label("Student (email or name)").fill("sam")
    ta.get_by_role("button", name="Filter").click()
    ta.get_by_role("link", name=str(sid), exact=True).click()
    expect(ta.get_by_role("heading", name=re.compile(f"Grading log #{sid}"))).to_be_visible()
    expect(ta.locator("pre.log")).to_contain_text("epoch 5/5 loss 0.1")

    ta.get_by_label(re.compile(r"New score")).fill("10")
    ta.get_by_role("button", name="Override the score").click()  # no reason: refused in place
    expect(ta.get_by_role("alert")).to_have_text("A reason is required: the student sees it next to the score.")
    ta.get_by_label(re.compile(r"^Reason \(the student reads it\)")).fill(REASON)
    ta.get_by_role("button", name="Override the score").click()
    expect(ta.locator(".flash")).to_contain_text(f"Score of #{sid} set to 10")
    expect(ta.locator("#score-in-force")).to_contain_text(f"10 (override by {TA_NAME}; it counts over")
    expect(ta.locator("table.audit tbody tr")).to_have_count(1)
    expect(ta.locator("table.audit")).to_contain_text(REASON)
    ta.context.close()

    student = browser.new_context().new_page()
    log_in(student, url, STUDENT)
    student.get_by_role("link", name="My submissions").click()
    expect(student.locator(".status").first).to_have_text("scored: 10 / 10 (changed by staff)")
    student.get_by_role("link", name=str(sid), exact=True).click()
    changed = student.get_by_role("region", name="Score set by staff")
    expect(changed).to_have_text(f"Score set to 10 by {TA_NAME}: {REASON}")
    expect(student.get_by_role("link", name="Grading log (staff)")).to_have_count(0)
    student.context.close()

    engine = make_engine(database_url)
    try:
        with make_sessions(engine)() as session:
            rows = session.scalars(select(Override).where(Override.submission_id == sid)).all()
            assert [(r.points_before, r.points_after, r.reason) for r in rows] == [(8.5, 10.0, REASON)]
    finally:
        engine.dispose()


def finish_rerun(database_url: str, submission_id: int, score: float) -> None:
    """Leave a re-run row scored, as a worker would."""
    with writing(database_url) as session:
        row = session.get(Submission, submission_id)
        row.state, row.score, row.max_score = State.SCORED, score, 10.0
        row.result, row.outcome = {**SCORED_RESULT, "score": score}, "ok"
        row.finished_at = dt.datetime.now(dt.timezone.utc)


def test_a_ta_reruns_an_overridden_upload_keeping_the_override_and_the_student_reads_one_notice(
    site,
    browser,
    tmp_path_factory,
):
    from playwright.sync_api import expect

    url, database_url = site
    shots = tmp_path_factory.mktemp("override-rerun")  # screenshots, to look at
    sid = add_scored_submission(database_url)
    ta = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(ta, url, TA)
    ta.goto(f"{url}/staff/submissions/{sid}")
    ta.get_by_label(re.compile(r"New score")).fill("4")
    ta.get_by_label(re.compile(r"^Reason \(the student reads it\)")).fill(REASON)
    ta.get_by_role("button", name="Override the score").click()
    expect(ta.locator("#score-in-force")).to_contain_text(f"4 (override by {TA_NAME}")

    rerun = ta.get_by_role("form", name="Re-run this upload")
    expect(rerun.locator("legend")).to_have_text(
        "This upload has an override in force. What should the re-run do to it?"
    )
    expect(rerun.locator("li")).to_have_text(f"4 by {TA_NAME} (made on run #{sid}): {REASON}")
    rerun.get_by_role("button", name="Re-run this upload").click()  # no choice: asked again, nothing queued
    expect(ta.get_by_role("alert")).to_contain_text(f"Submission #{sid} (4 by {TA_NAME}) has an override in force.")
    expect(ta.get_by_role("alert")).to_contain_text("Nothing was queued.")
    ta.screenshot(path=str(shots / "ta-asked.png"), full_page=True)
    keep = ta.get_by_label(re.compile(r"Keep the override in force \(the re-run's score is shown to staff"))
    keep.check()
    ta.get_by_role("button", name="Re-run this upload").click()
    expect(ta.locator(".flash")).to_contain_text(f"Override of #{sid} kept in force")
    new = int(re.search(r"/staff/submissions/(\d+)$", ta.url).group(1))
    assert new != sid

    finish_rerun(database_url, new, 1.25)
    ta.reload()
    expect(ta.locator("#score-in-force")).to_contain_text(f"4 (override by {TA_NAME}, made on run #{sid}")
    expect(ta.locator("#override-in-force")).to_contain_text(f"made on run #{sid} and kept over the re-run")
    ta.context.close()

    student = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(student, url, STUDENT)
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    for shown, extra in ((new, ""), (sid, f" (run #{new})")):
        student.goto(f"{url}/submissions/{shown}")
        notice = student.get_by_role("region", name="Score set by staff")
        expect(notice).to_have_count(1)
        expect(notice).to_have_text(
            f"Score set to 4 by {TA_NAME}: {REASON} Re-run on {day}{extra}: the override still counts."
        )
        expect(student.locator(".status").first).to_have_text("scored: 4 / 10 (changed by staff)")
        expect(student.get_by_text("is the one that counts")).to_have_count(0)
        student.screenshot(path=str(shots / f"student-{shown}.png"), full_page=True)
    student.context.close()
