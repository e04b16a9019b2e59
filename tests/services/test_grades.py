"""Grades from the database (SQLite and PostgreSQL): rows in force, policy, extensions, overrides, the course grade."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import event

from grader.config import load_settings
from grader.db import transaction
from grader.models import Assignment, Extension, Override, Role, StaffScore, State, Submission, User
from grader.services.course_grades import course_report, grades_of
from grader.services.grades import grade_table, rows_in_force

UTC = dt.timezone.utc
DUE = dt.datetime(2025, 2, 13, 23, 59, tzinfo=UTC)
POLICY = {
    "due_at": "2025-02-13T23:59:00",
    "counts": "best",
    "late": {"penalty_percent": 10, "per": "hour", "grace": "15m", "last_accepted": "2d"},
}
NOW = DUE + dt.timedelta(days=10)


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings({"GRADER_DATA_DIR": str(tmp_path / "data")})


def add_user(session, email: str, role: Role = Role.STUDENT, name: str = "") -> User:
    user = User(email=email, role=role, name=name, password_hash="x")
    session.add(user)
    session.flush()
    return user


def add_row(session, user: User, assignment: Assignment, at: dt.datetime, score: float | None, **fields) -> Submission:
    state = fields.pop("state", State.SCORED if score is not None else State.QUEUED)
    row = Submission(
        user_id=user.id,
        assignment_id=assignment.id,
        filename="model.py",
        blob_sha256="0" * 64,
        size_bytes=1,
        state=state,
        created_at=at,
        score=score,
        max_score=10.0 if score is not None else None,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def course(sessions):
    """digits-mlp with a late policy; ada (on time 6, late 9), bob (extension), cy (override), dee (nothing)."""
    with transaction(sessions) as s:
        a = Assignment(slug="digits-mlp", title="Digits", topic=1, policy=POLICY, due_at=DUE)
        s.add(a)
        s.flush()
        ta = add_user(s, "ta@example.org", Role.TA, name="Tess TA")
        ada, bob, cy, dee = (add_user(s, f"{n}@example.org") for n in ("ada", "bob", "cy", "dee"))
        add_row(s, ada, a, DUE - dt.timedelta(hours=1), 6.0)
        add_row(s, ada, a, DUE + dt.timedelta(hours=2, minutes=30), 9.0)  # 3 started hours: -30% -> 6.3
        add_row(s, bob, a, DUE + dt.timedelta(days=1), 8.0)
        extended = DUE + dt.timedelta(days=3)
        s.add(Extension(assignment_id=a.id, user_id=bob.id, due_at=extended, reason="illness", granted_by_id=ta.id))
        first = add_row(s, cy, a, DUE - dt.timedelta(days=1), 4.0)
        s.add(Override(submission_id=first.id, by_id=ta.id, points_before=4.0, points_after=7.0, reason="grader bug"))
        ids = {u.email.split("@")[0]: u.id for u in (ta, ada, bob, cy, dee)}
        return {"assignment_id": a.id, **ids}


def table(sessions, settings, ids):
    with transaction(sessions) as s:
        assignment = s.get(Assignment, ids["assignment_id"])
        users = [ids[n] for n in ("ada", "bob", "cy", "dee")]
        grades = grade_table(s, settings, [assignment], users, tz=UTC, now=NOW)
        return {name: grades[(ids[name], assignment.id)] for name in ("ada", "bob", "cy", "dee")}


def test_best_after_penalty_extension_override_and_nothing(sessions, settings, course):
    grades = table(sessions, settings, course)
    ada = grades["ada"]
    assert ada.final.value == 6.3 and ada.late_percent == 30
    assert "10% per started hour → −30%" in ada.late_penalty.explanation
    bob = grades["bob"]
    assert bob.final.value == 8.0 and bob.late_percent == 0
    assert "extended to 16 Feb 2025 23:59 UTC by Tess TA: illness" in bob.extension.explanation
    cy = grades["cy"]
    assert cy.final.value == 7.0 and cy.raw.value == 4.0
    assert cy.override.explanation == "set to 7 by Tess TA: grader bug"
    assert "the rubric scored it 4/10" in cy.raw.explanation
    assert cy.final.explanation == "7 out of 10, set by override; it replaces 4"
    dee = grades["dee"]  # nothing graded and the cutoff has passed: a zero, as a percent of the rubric's points
    assert dee.final.value == 0.0 and dee.percent == 0.0


def test_a_rerun_supersedes_its_chain_the_uploads_override_stays_and_a_withdrawn_one_stops_counting(
    sessions, settings, course
):
    with transaction(sessions) as s:
        cy = s.get(User, course["cy"])
        first = rows_in_force(s, user_ids=[cy.id])[0]
        assignment = s.get(Assignment, course["assignment_id"])
        rerun = add_row(s, cy, assignment, first.created_at, 5.0, rerun_of_id=first.id)
        in_force = [r.id for r in rows_in_force(s, user_ids=[cy.id])]
        assert in_force == [rerun.id]
    grades = table(sessions, settings, course)
    assert grades["cy"].final.value == 7.0 and grades["cy"].raw.value == 5.0  # the upload's override, over the re-run
    with transaction(sessions) as s:
        s.add(Override(submission_id=rerun.id, by_id=course["ta"], points_before=5.0, points_after=9.5, reason="x"))
        s.flush()
        s.add(Override(submission_id=rerun.id, by_id=course["ta"], points_before=9.5, points_after=None, reason="undo"))
    assert table(sessions, settings, course)["cy"].final.value == 5.0


def test_an_override_competes_as_its_submissions_score_under_best(sessions, settings, course):
    with transaction(sessions) as s:
        ada = s.get(User, course["ada"])
        on_time = rows_in_force(s, user_ids=[ada.id])[0]
        s.add(Override(submission_id=on_time.id, by_id=course["ta"], points_before=6.0, points_after=9.0, reason="ok"))
    ada = table(sessions, settings, course)["ada"]
    assert ada.submission_id == on_time.id and ada.final.value == 9.0 and ada.raw.value == 6.0


def test_no_policy_means_no_deadline_and_no_penalty(sessions, settings, course):
    with transaction(sessions) as s:
        row = s.get(Assignment, course["assignment_id"])
        row.policy, row.due_at = None, None  # no dates at all (dates in the columns alone are a policy in force)
    grades = table(sessions, settings, course)
    assert grades["ada"].final.value == 9.0
    assert grades["ada"].late_penalty.explanation == "no deadline, so no late penalty"
    assert grades["dee"].final.value is None  # work can still come


def test_the_grade_table_reads_every_student_in_a_constant_number_of_queries(sessions, settings, course):
    engine = sessions.kw["bind"]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    with transaction(sessions) as s:
        assignment = s.get(Assignment, course["assignment_id"])
        few = [course["ada"], course["bob"]]
        event.listen(engine, "before_cursor_execute", listener)
        grade_table(s, settings, [assignment], few, tz=UTC, now=NOW)
        small = len(statements)
        statements.clear()
        grade_table(s, settings, [assignment], [course[n] for n in ("ada", "bob", "cy", "dee")], tz=UTC, now=NOW)
        event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) <= small + 1  # + the rubric lookup for dee, who has no graded row
    assert small <= 4


def test_the_course_grade_weighs_staff_scores_and_names_what_is_missing(sessions, settings, course):
    with transaction(sessions) as s:
        ada = s.get(User, course["ada"])
        s.add(StaffScore(user_id=ada.id, component="summaries", score=80, entered_by_id=course["ta"]))
        s.add(StaffScore(user_id=ada.id, component="project", score=90, entered_by_id=course["ta"]))
        s.flush()
        grades = grades_of(s, settings, ada, now=NOW)
        assert grades.course.final is None and grades.course.missing == ("theory",)
        assert grades.course.provisional == pytest.approx(0.7 * (0.2 * 80 + 0.8 * 90))
        s.add(StaffScore(user_id=ada.id, component="theory", score=50, entered_by_id=course["ta"]))
        s.flush()
        grades = grades_of(s, settings, ada, now=NOW)
        assert grades.course.final == pytest.approx(0.3 * 50 + 0.7 * (0.2 * 80 + 0.8 * 90))
        homework = next(c for c in grades.course.components if c.id == "homework")
        assert homework.score == 63.0 and homework.weight == 0  # digits-mlp's 6.3/10, shown but formative
        report = course_report(s, settings, now=NOW)
        assert [g.student.email for g in report.students] == [f"{n}@example.org" for n in ("ada", "bob", "cy", "dee")]


@pytest.mark.parametrize(
    ("offset", "percent", "final"),
    [
        (dt.timedelta(seconds=-1), 0, 8.0),
        (dt.timedelta(0), 0, 8.0),  # the due moment itself is on time
        (dt.timedelta(seconds=1), 10, 7.2),  # one second late is one started hour
        (dt.timedelta(hours=1, seconds=1), 20, 6.4),
    ],
)
def test_the_late_penalty_at_the_due_date_read_back_from_the_database(sessions, settings, offset, percent, final):
    """Moments make the round trip through the database (SQLite drops the zone) and keep their boundary."""
    with transaction(sessions) as s:
        policy = {"due_at": "2025-02-13T23:59:00", "late": {"penalty_percent": 10, "per": "hour"}}
        a = Assignment(slug="digits-mlp", title="Digits", topic=1, policy=policy, due_at=DUE)
        s.add(a)
        s.flush()
        ada = add_user(s, "ada@example.org")
        add_row(s, ada, a, DUE + offset, 8.0)
        ids = (a.id, ada.id)
    with transaction(sessions) as s:
        assignment = s.get(Assignment, ids[0])
        grade = grade_table(s, settings, [assignment], [ids[1]], tz=UTC, now=NOW)[(ids[1], ids[0])]
    assert grade.late_percent == percent and grade.final.value == final


def test_a_saved_deadline_or_extension_applies_to_the_next_reading_at_once(sessions, settings, course):
    assert table(sessions, settings, course)["ada"].final.value == 6.3
    with transaction(sessions) as s:
        assignment = s.get(Assignment, course["assignment_id"])
        assignment.policy = {**POLICY, "due_at": "2025-02-14T06:00:00"}  # later than ada's late upload
        later = NOW + dt.timedelta(days=1)
        dee, ta = course["dee"], course["ta"]
        s.add(Extension(assignment_id=assignment.id, user_id=dee, due_at=later, reason="exchange", granted_by_id=ta))
    grades = table(sessions, settings, course)
    assert grades["ada"].final.value == 9.0 and grades["ada"].late_percent == 0
    assert grades["dee"].final.value is None  # her extended cutoff is still ahead: no zero yet
