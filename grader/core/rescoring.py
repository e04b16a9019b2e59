"""Rescoring without retraining: stored evaluations + the rules of today -> every grade again.

A run's evaluation (metrics, outcome, log) is stored as `Evaluation.to_json()`.
When a rubric, a reference result, a deadline, an extension, an override or
the late policy changes, `rescore_assignment` recomputes every submission's
rubric score with `grader.core.grading.grade` (the same function that scored
it fresh, so a rescore equals a fresh score) and every student's
`AssignmentGrade`, in milliseconds and without running anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from grader.core.grading import Evaluation, GradeResult, grade
from grader.core.outcomes import Status
from grader.core.policy import AssignmentGrade, AssignmentPolicy, Attempt, Extension, Override, grade_assignment
from grader.core.rubric import RubricSpec

UTC = dt.timezone.utc


@dataclasses.dataclass(frozen=True)
class StoredSubmission:
    """A submission as the database keeps it: who, when, and what its run measured."""

    id: int | str
    student: str
    submitted_at: dt.datetime
    evaluation: Mapping[str, Any] | None  # Evaluation.to_json(); None while queued or running
    previous_score: float | None = None  # the score stored before this rescore, to report changes


@dataclasses.dataclass(frozen=True)
class Rescore:
    """The outcome of a rescore: fresh results, fresh grades, and what changed."""

    results: dict[int | str, GradeResult]  # by submission id; only submissions with a readable evaluation
    grades: dict[str, AssignmentGrade]  # by student
    changed: tuple[int | str, ...]  # submissions whose score differs from previous_score
    problems: dict[int | str, str]  # submissions whose stored evaluation cannot be read, for staff


def regrade(
    evaluation: Mapping[str, Any], rubric: RubricSpec, references: Mapping[str, Mapping[str, float]]
) -> GradeResult:
    """Score a stored evaluation again against a rubric and the reference results of today."""
    return grade(Evaluation.from_json(evaluation), rubric, references)


def rescore_assignment(
    submissions: Sequence[StoredSubmission],
    rubric: RubricSpec,
    references: Mapping[str, Mapping[str, float]],
    policy: AssignmentPolicy,
    *,
    extensions: Mapping[str, Extension] | None = None,
    overrides: Mapping[str, Override] | None = None,
    students: Sequence[str] = (),
    now: dt.datetime | None = None,
    tz: dt.tzinfo = UTC,
) -> Rescore:
    """Recompute every submission's score and every student's grade for one assignment.

    students lists those who get a grade even without a submission (a zero
    once the last accepted moment has passed). A rubric that cannot score
    (a missing reference result) raises SpecError: that is staff's to fix,
    and no grade is half-recomputed.
    """
    extensions, overrides = extensions or {}, overrides or {}
    results: dict[int | str, GradeResult] = {}
    problems: dict[int | str, str] = {}
    attempts: dict[str, list[Attempt]] = {student: [] for student in students}
    for submission in submissions:
        attempts.setdefault(submission.student, [])
        if submission.evaluation is None:
            attempts[submission.student].append(
                Attempt(submission.id, submission.submitted_at, None, None, rubric.max_points)
            )
            continue
        try:
            evaluation = Evaluation.from_json(submission.evaluation)
        except (KeyError, TypeError, ValueError) as exc:
            problems[submission.id] = (
                f"the stored evaluation cannot be read ({type(exc).__name__}: {exc}); run it again"
            )
            continue
        result = grade(evaluation, rubric, references)
        results[submission.id] = result
        score = result.score if result.status is not Status.ERROR else None
        attempts[submission.student].append(
            Attempt(submission.id, submission.submitted_at, result.status, score, result.max_score)
        )
    grades = {
        student: grade_assignment(
            rubric.assignment,
            rubric.max_points,
            student_attempts,
            policy.deadlines(extensions.get(student)),
            policy.late,
            policy.counts,
            override=overrides.get(student),
            now=now,
            tz=tz,
        )
        for student, student_attempts in attempts.items()
    }
    changed = tuple(s.id for s in submissions if s.id in results and results[s.id].score != s.previous_score)
    return Rescore(results, grades, changed, problems)
