"""Rubrics edited on the site: the rubric in force, a preview over the rows in force, a save that rescores."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from grader.config import PROJECT_ROOT, load_settings
from grader.core.errors import SpecError
from grader.core.grading import Evaluation, grade
from grader.core.kinds.classification import CLASSIFICATION
from grader.core.outcomes import Outcome
from grader.db import transaction
from grader.models import Assignment, Role, RubricRevision, State, Submission, User
from grader.services.rubrics import (
    RubricProblem,
    locate_field,
    parse_rubric_text,
    preview_rubric,
    rubric_in_force,
    rubric_text_in_force,
    save_rubric,
)

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
RUBRIC = (FIXTURES / "rubrics" / "quick-digits.yaml").read_text()
RELATIVE = """assignment: quick-digits
criteria:
  - {id: accuracy, title: Test accuracy, metric: accuracy, points: 100, policy: linear,
     zero_at: 0.5, full_at: {relative_to: keras, ratio: 1.0}}
"""


@pytest.fixture
def settings():
    return load_settings(
        {"GRADER_ASSIGNMENTS_DIR": str(FIXTURES / "assignments"), "GRADER_RUBRICS_DIR": str(FIXTURES / "rubrics")}
    )


def evaluation(accuracy: float, outcome: Outcome = Outcome.OK) -> Evaluation:
    return Evaluation(outcome, {"accuracy": accuracy, "macro_f1": accuracy, "parameters": 1000}, "", "", "", {}, {})


@pytest.fixture
def course(sessions):
    """quick-digits with four students' submissions scored by the file's rubric; one re-run chain."""
    rubric = parse_rubric_text(RUBRIC, "quick-digits", "rubric", CLASSIFICATION.metrics)
    with transaction(sessions) as session:
        assignment = Assignment(slug="quick-digits", title="Q")
        prof = User(email="prof@example.org", role=Role.INSTRUCTOR, password_hash="x")
        students = [User(email=f"s{i}@example.org", password_hash="x") for i in range(3)]
        session.add_all([assignment, prof, *students])
        session.flush()

        def add(user, ev, rerun_of=None, state=State.SCORED):
            result = grade(ev, rubric, {}) if ev is not None else None
            row = Submission(
                user_id=user.id,
                assignment_id=assignment.id,
                filename="m.py",
                blob_sha256="0" * 64,
                size_bytes=1,
                state=state,
                evaluation=ev.to_json() if ev else None,
                result=result.to_json() if result else None,
                score=result.score if result else None,
                max_score=result.max_score if result else None,
                rerun_of_id=rerun_of,
            )
            session.add(row)
            session.flush()
            return row.id

        first = add(students[0], evaluation(0.70))
        rerun = add(students[0], evaluation(0.80), rerun_of=first)  # in force; `first` is history
        other = add(students[1], evaluation(0.85))
        failed = add(students[2], evaluation(0.0, Outcome.TIMEOUT))
        queued = add(students[2], None, state=State.QUEUED)
        return {
            "assignment_id": assignment.id,
            "prof": prof.id,
            "ids": {"first": first, "rerun": rerun, "other": other, "failed": failed, "queued": queued},
        }


def the_assignment(sessions, course) -> Assignment:
    with sessions() as session:
        return session.get(Assignment, course["assignment_id"])


def test_the_file_is_in_force_until_a_revision_is_saved(sessions, course, settings):
    with sessions() as session:
        row = session.get(Assignment, course["assignment_id"])
        assert rubric_in_force(session, row, settings).max_points == 100
        assert rubric_text_in_force(session, row, settings) == RUBRIC
    save_rubric(sessions, course["assignment_id"], RUBRIC.replace("points: 100", "points: 30"), course["prof"])
    save_rubric(sessions, course["assignment_id"], RUBRIC.replace("points: 100", "points: 40"), course["prof"])
    with sessions() as session:
        row = session.get(Assignment, course["assignment_id"])
        assert rubric_in_force(session, row, settings).max_points == 40
        assert "points: 40" in rubric_text_in_force(session, row, settings)


def test_preview_covers_the_rows_in_force_and_saves_nothing(sessions, course):
    stricter = RUBRIC.replace("full_at: 0.9", "full_at: 1.0")
    with sessions() as session:
        preview = preview_rubric(session, session.get(Assignment, course["assignment_id"]), stricter)
    ids = course["ids"]
    by_id = {c.submission_id: c for c in preview.changes}
    assert set(by_id) == {ids["rerun"], ids["other"], ids["failed"]}  # not the superseded row, not the queued one
    assert preview.not_graded == 1
    assert by_id[ids["rerun"]].before == pytest.approx(100 * 0.3 / 0.4)
    assert by_id[ids["rerun"]].after == pytest.approx(100 * 0.3 / 0.5)
    assert by_id[ids["failed"]].delta == 0  # a run that did not finish stays a zero
    assert (preview.up, preview.down, preview.same) == (0, 2, 1)
    assert preview.summary().startswith("3 graded submissions: 0 go up, 2 go down, 1 unchanged; mean change -")
    with sessions() as session:
        assert session.scalars(select(RubricRevision)).all() == []


def test_save_rescores_every_stored_evaluation_like_fresh_scoring(sessions, course):
    changed = RUBRIC.replace("zero_at: 0.5", "zero_at: 0.6").replace("at_most: 50000", "at_most: 500")
    saved = save_rubric(sessions, course["assignment_id"], changed, course["prof"])
    assert (saved.rescored, saved.changed, saved.problems) == (4, 3, {})  # the timeout stays 0
    fresh_rubric = parse_rubric_text(changed, "quick-digits", "rubric", CLASSIFICATION.metrics)
    with sessions() as session:
        for row in session.scalars(select(Submission)):
            if row.evaluation is None:  # the queued one
                continue
            fresh = grade(Evaluation.from_json(row.evaluation), fresh_rubric, {})
            assert (row.score, row.max_score, row.result) == (fresh.score, fresh.max_score, fresh.to_json())
        assert session.get(Submission, course["ids"]["queued"]).score is None
        [revision] = session.scalars(select(RubricRevision)).all()
        assert (revision.yaml_text, revision.saved_by_id) == (changed, course["prof"])


def test_a_wrong_rubric_saves_nothing_and_names_its_line(sessions, course):
    broken = RUBRIC.replace("points: 100", "points: -5")
    with pytest.raises(SpecError) as caught:
        save_rubric(sessions, course["assignment_id"], broken, course["prof"])
    problem = RubricProblem.of(caught.value, broken)
    assert (
        problem.field == "criteria[0].points"
        and problem.line == 5
        and problem.message == "expected a number > 0, got -5"
    )
    with sessions() as session:
        assert session.scalars(select(RubricRevision)).all() == []
        assert session.get(Submission, course["ids"]["other"]).score == pytest.approx(100 * 0.35 / 0.4)

    with pytest.raises(SpecError, match="expected 'quick-digits', the assignment it grades"):
        save_rubric(sessions, course["assignment_id"], RUBRIC.replace("assignment: quick-digits", "assignment: x"), 1)


def test_relative_thresholds_need_the_stored_references(sessions, course):
    with pytest.raises(SpecError) as caught:
        save_rubric(sessions, course["assignment_id"], RELATIVE, course["prof"])
    assert "need the keras reference results, which are not known yet" in str(caught.value)
    assert "grader references build quick-digits" in str(caught.value)
    with transaction(sessions) as session:
        session.get(Assignment, course["assignment_id"]).references = {"keras": {"accuracy": 0.9}}
    saved = save_rubric(sessions, course["assignment_id"], RELATIVE, course["prof"])
    with sessions() as session:
        assert session.get(Submission, course["ids"]["other"]).score == pytest.approx(100 * 0.35 / 0.4)
    assert saved.rescored == 4


def test_an_unreadable_stored_evaluation_is_reported_not_fatal(sessions, course):
    with transaction(sessions) as session:
        session.get(Submission, course["ids"]["other"]).evaluation = {"outcome": "no such outcome"}
    saved = save_rubric(sessions, course["assignment_id"], RUBRIC, course["prof"])
    assert set(saved.problems) == {course["ids"]["other"]} and saved.rescored == 3


def test_locate_field_finds_nested_fields_and_falls_back_to_the_nearest():
    text = "assignment: a\ncriteria:\n  - id: x\n    points: 1\n  - id: y\n    bands:\n      - {at_least: 1}\n"
    assert locate_field(text, "criteria[1].id") == 5
    assert locate_field(text, "criteria[1].bands[0].points") == 7
    assert locate_field(text, "criteria[1].title") == 5  # absent: the criterion it belongs to
    assert locate_field(text, "") == 1
    assert locate_field("a: [", "a") is None
