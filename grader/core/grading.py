"""From an evaluation (what a run measured) to a grade (what the rubric gives).

Evaluation is the expensive step (train and predict in the sandbox); grading
is pure and cheap, so a changed rubric regrades every stored evaluation
without training anything again.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from grader.core.outcomes import Outcome, Status
from grader.core.rubric import RubricSpec, score_rubric


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What one sandboxed run of a submission measured."""

    outcome: Outcome
    metrics: dict[str, Any]  # the task kind's trusted metrics, and what the run reported (parameters)
    student_message: str
    staff_detail: str
    log: str
    resources: dict[str, Any]  # wall_s, cpu_s, peak_memory_bytes, tasks_refused
    environment: dict[str, Any]  # framework, versions, seeds, data_sha256, ...
    curve: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # reported per epoch (grader.core.curves)

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "outcome": self.outcome.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(**{**data, "outcome": Outcome(data["outcome"])})


@dataclasses.dataclass(frozen=True)
class GradeResult:
    """An evaluation scored against a rubric: what students and staff see."""

    status: Status
    evaluation: Evaluation
    score: float | None
    max_score: float
    criteria: tuple[dict[str, Any], ...]
    checks: tuple[dict[str, Any], ...] = ()  # reported values against the rubric's checks: no points (see rubric.spec)

    @property
    def outcome(self) -> Outcome:
        return self.evaluation.outcome

    def to_json(self) -> dict[str, Any]:
        """The JSON shape `grader grade --json` prints and the API returns."""
        ev = self.evaluation
        return {
            "status": self.status.value,
            "outcome": ev.outcome.value,
            "score": self.score,
            "max_score": self.max_score,
            "metrics": ev.metrics,
            "criteria": list(self.criteria),
            "checks": list(self.checks),
            "student_message": ev.student_message,
            "staff_detail": ev.staff_detail,
            "log": ev.log,
            "resources": ev.resources,
            "environment": ev.environment,
            "curve": ev.curve,
        }


def grade(evaluation: Evaluation, rubric: RubricSpec, references: Mapping[str, Mapping[str, float]]) -> GradeResult:
    """Score an evaluation: rubric points when it ran, a zero with reasons when it failed."""
    status = Status.for_outcome(evaluation.outcome)
    if status is not Status.SCORED:
        reason = (
            "not scored: the run did not finish"
            if status is Status.FAILED
            else "not scored yet: grading failed on our side"
        )
        criteria = tuple(
            {"id": c.id, "title": c.title, "points": 0.0, "max_points": c.points, "feedback": f"{c.title}: {reason}."}
            for c in rubric.criteria
        )
        score = 0.0 if status is Status.FAILED else None
        return GradeResult(status, evaluation, score, rubric.max_points, criteria)
    result = score_rubric(rubric, evaluation.metrics, references)
    criteria = tuple(
        {
            "id": c.id,
            "title": c.title,
            "metric": c.metric,
            "value": c.value,
            "points": c.points,
            "max_points": c.max_points,
            "feedback": c.feedback,
        }
        for c in result.criteria
    )
    checks = tuple(dataclasses.asdict(check) for check in result.checks)
    return GradeResult(status, evaluation, result.score, result.max_score, criteria, checks)
