"""Overrides: an append-only audit trail with the score before and after, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from grader.db import transaction
from grader.models import Assignment, Override, Role, State, Submission, User
from grader.services.overrides import (
    ActionRefused,
    audit_trail,
    chain_score,
    override_in_force,
    override_score,
    score_in_force,
    view,
    withdraw_override,
)

T0 = dt.datetime(2025, 2, 10, 12, 0, tzinfo=dt.timezone.utc)


def _user(session, email: str, role: Role, name: str = "") -> User:
    user = User(email=email, name=name, role=role, password_hash="x")
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(sessions):
    """A student's scored submission (8.5 / 10), a TA, an instructor and another student."""
    with transaction(sessions) as session:
        assignment = Assignment(slug="digits-mlp", title="Digits", topic=1)
        session.add(assignment)
        student = _user(session, "ada@example.org", Role.STUDENT)
        ta = _user(session, "ta@example.org", Role.TA, "Tess Assistant")
        prof = _user(session, "prof@example.org", Role.INSTRUCTOR)
        session.flush()
        sub = Submission(
            user_id=student.id, assignment_id=assignment.id, filename="model.py", blob_sha256="0" * 64,
            size_bytes=10, state=State.SCORED, score=8.5, max_score=10.0, outcome="ok",
        )  # fmt: skip
        session.add(sub)
        session.flush()
        return {"sessions": sessions, "sub": sub.id, "student": student.id, "ta": ta.id, "prof": prof.id}


def _override(world, who: str, points, reason, minutes: int = 0) -> Override:
    with transaction(world["sessions"]) as session:
        staff = session.get(User, world[who])
        return override_score(
            session, submission_id=world["sub"], staff=staff, points=points, reason=reason,
            now=T0 + dt.timedelta(minutes=minutes),
        )  # fmt: skip


def _rows(world) -> int:
    with world["sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Override))


def test_two_overrides_then_a_withdrawal_leave_three_rows_with_before_and_after(world):
    _override(world, "ta", "9", "  Late data fix: the test set had a mislabelled class.  ")
    _override(world, "prof", 9.5, "Checked again with the instructor.", minutes=5)
    with transaction(world["sessions"]) as session:
        withdraw_override(
            session, submission_id=world["sub"], staff=session.get(User, world["ta"]), reason="Fixed in the rubric",
            now=T0 + dt.timedelta(minutes=9),
        )  # fmt: skip
    with world["sessions"]() as session:
        trail = audit_trail(session, world["sub"])
        assert [(r.points_before, r.points_after) for r in trail] == [(8.5, 9.0), (9.0, 9.5), (9.5, None)]
        assert [r.by.email for r in trail] == ["ta@example.org", "prof@example.org", "ta@example.org"]
        assert trail[0].reason == "Late data fix: the test set had a mislabelled class."
        assert [r.at.replace(tzinfo=dt.timezone.utc) for r in trail] == [
            T0,
            T0 + dt.timedelta(minutes=5),
            T0 + dt.timedelta(minutes=9),
        ]
        assert override_in_force(session, world["sub"]) is None
        assert score_in_force(session, session.get(Submission, world["sub"])) == 8.5  # the rubric's again
        assert session.get(Submission, world["sub"]).score == 8.5  # the rubric score itself is never touched


def test_the_newest_override_is_in_force_and_names_the_ta(world):
    _override(world, "ta", "7,5", "Used the test labels through a file path")
    with world["sessions"]() as session:
        shown = view(override_in_force(session, world["sub"]))
        assert shown is not None and shown.points == 7.5 and shown.by == "Tess Assistant"
        assert shown.to_json()["reason"] == "Used the test labels through a file path"
        assert shown.to_json()["at"].endswith("+00:00")
        assert score_in_force(session, session.get(Submission, world["sub"])) == 7.5


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required_and_nothing_is_written_without_one(world, reason):
    with pytest.raises(ActionRefused, match="A reason is required") as refused:
        _override(world, "ta", "9", reason)
    assert refused.value.field == "reason" and _rows(world) == 0


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("11", r"from 0 to 10 \(this submission's maximum\); got 11"),
        ("-1", "from 0 to 10"),
        ("nan", "from 0 to 10"),
        ("ten", "must be a number from 0 to 10, like 7.5; got 'ten'"),
        ("", "Enter the new score"),
    ],
)
def test_points_out_of_range_or_not_a_number_are_refused(world, points, message):
    with pytest.raises(ActionRefused, match=message) as refused:
        _override(world, "ta", points, "a reason")
    assert refused.value.field == "points" and _rows(world) == 0


def test_the_boundaries_0_and_the_maximum_are_accepted(world):
    _override(world, "ta", "0", "Plagiarism confirmed")
    _override(world, "ta", "10", "Appeal upheld", minutes=1)
    with world["sessions"]() as session:
        assert [(r.points_before, r.points_after) for r in audit_trail(session, world["sub"])] == [
            (8.5, 0.0),
            (0.0, 10.0),
        ]


def test_students_cannot_override_and_nothing_is_written(world):
    with pytest.raises(ActionRefused, match="Only TAs and instructors"):
        _override(world, "student", "10", "I deserve it")
    assert _rows(world) == 0


def test_withdrawing_without_an_override_in_force_is_refused(world):
    with pytest.raises(ActionRefused, match="no override in force"):
        with transaction(world["sessions"]) as session:
            withdraw_override(session, submission_id=world["sub"], staff=session.get(User, world["ta"]), reason="x")
    assert _rows(world) == 0


def _add_rerun(world, state: State = State.QUEUED, score: float | None = None) -> int:
    """Add a re-run row of the world's upload, as grader.services.reruns would, in `state`."""
    with transaction(world["sessions"]) as session:
        first = session.get(Submission, world["sub"])
        rerun = Submission(
            user_id=first.user_id, assignment_id=first.assignment_id, filename="model.py", blob_sha256="0" * 64,
            size_bytes=10, state=state, created_at=first.created_at, rerun_of_id=first.id, score=score,
            max_score=10.0 if score is not None else None,
        )  # fmt: skip
        session.add(rerun)
        session.flush()
        return rerun.id


def test_a_run_still_being_graded_or_superseded_by_a_graded_rerun_is_refused(world):
    rerun_id = _add_rerun(world)
    with pytest.raises(ActionRefused, match="still queued; override it once it is graded"):
        with transaction(world["sessions"]) as session:
            override_score(session, submission_id=rerun_id, staff=session.get(User, world["ta"]), points=1, reason="r")
    with pytest.raises(ActionRefused, match="There is no submission #999999"):
        with transaction(world["sessions"]) as session:
            override_score(session, submission_id=999999, staff=session.get(User, world["ta"]), points=1, reason="r")
    assert _rows(world) == 0
    with transaction(world["sessions"]) as session:
        session.get(Submission, rerun_id).state, session.get(Submission, rerun_id).score = State.SCORED, 2.0
    with pytest.raises(ActionRefused, match=f"newest run #{rerun_id} counts: override that one"):
        _override(world, "ta", "9", "reason")
    assert _rows(world) == 0


def test_the_newest_graded_run_can_be_overridden_while_a_rerun_waits_and_the_override_counts_over_it(world):
    rerun_id = _add_rerun(world)
    _override(world, "ta", "9", "Appeal upheld")  # the upload's override, made on its newest graded run
    with world["sessions"]() as session:
        counts = chain_score(session, session.get(Submission, rerun_id))
        assert (counts.points, counts.run, counts.override.run) == (9.0, rerun_id, world["sub"])
        assert counts.rerun_at is not None  # a run newer than the one it was made on


def test_the_staff_search_filters_by_the_score_in_force_on_both_databases(world):
    from grader.web.queries import SubmissionFilter, search_submissions

    _override(world, "ta", "3", "Copied code")
    with world["sessions"]() as session:
        low = search_submissions(session, SubmissionFilter(max_score=4.0, student="ADA"))
        assert [(r.submission.id, r.score, r.override.points_after) for r in low.rows] == [(world["sub"], 3.0, 3.0)]
        assert search_submissions(session, SubmissionFilter(min_score=8.0)).total == 0
    with transaction(world["sessions"]) as session:
        withdraw_override(session, submission_id=world["sub"], staff=session.get(User, world["ta"]), reason="No")
    with world["sessions"]() as session:
        assert [r.score for r in search_submissions(session, SubmissionFilter(min_score=8.0)).rows] == [8.5]
