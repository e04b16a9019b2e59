"""Score one submission's metrics against a rubric and the reference results."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping

from grader.core.rubric.policies import Absolute, Level, Measured, Progress, Relative, Resolved
from grader.core.rubric.spec import CheckSpec, CriterionSpec, Metric, RubricSpec
from grader.core.validate import Where

_REFERENCE_NAMES = {"keras": "the Keras reference", "torch": "the PyTorch reference", "best": "the best reference"}


@dataclasses.dataclass(frozen=True)
class CriterionResult:
    """The points one criterion gave, and one sentence saying why."""

    id: str
    title: str
    metric: str
    value: float | None  # None: the run could not measure it
    points: float
    max_points: float
    feedback: str


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """A check of a reported value: never points; `flagged` asks staff to look (outside the limit, or missing)."""

    id: str
    title: str
    metric: str
    value: float | None  # as the run reported it; None: it reported nothing usable
    flagged: bool
    feedback: str


@dataclasses.dataclass(frozen=True)
class RubricResult:
    """A submission's score: every criterion's result and the total, and the checks staff verify."""

    criteria: tuple[CriterionResult, ...]
    score: float
    max_score: float
    checks: tuple[CheckResult, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Return plain JSON-friendly data."""
        return dataclasses.asdict(self)


def score_rubric(
    rubric: RubricSpec,
    metrics: Mapping[str, float],
    references: Mapping[str, Mapping[str, float]],
) -> RubricResult:
    """Score metrics against rubric; raise SpecError when a metric or reference result is missing.

    A missing value is a configuration problem for staff, never the student's.
    """
    results = tuple(
        _score_criterion(
            criterion, Where(rubric.source or f"rubric of {rubric.assignment}"), index, metrics, references
        )
        for index, criterion in enumerate(rubric.criteria)
    )
    score = round(sum(result.points for result in results), 2)
    checks = tuple(check_reported(check, metrics.get(check.metric)) for check in rubric.checks)
    return RubricResult(results, score, round(rubric.max_points, 2), checks)


def check_reported(check: CheckSpec, value: object) -> CheckResult:
    """Compare what the run reported with the check's limit, in words; never points (the run can lie)."""
    metric = check.definition
    limit = f"{'at most' if check.bound == 'at_most' else 'at least'} {metric.format(check.limit)}"
    unverified = "Not scored: your run reports this itself, so staff check it and may adjust your score."
    usable = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not usable:
        feedback = f"{metric.label} was not reported by your run (limit: {limit}). {unverified}"
        return CheckResult(check.id, check.title, check.metric, None, True, feedback)
    number = float(value)
    within = check.within(number)
    verdict = "within the limit" if within else "outside the limit"
    feedback = f"{metric.label} {metric.format(number)} as reported by your run ({limit}): {verdict}. {unverified}"
    return CheckResult(check.id, check.title, check.metric, number, not within, feedback)


def _score_criterion(
    criterion: CriterionSpec,
    file: Where,
    index: int,
    metrics: Mapping[str, float],
    references: Mapping[str, Mapping[str, float]],
) -> CriterionResult:
    metric = criterion.definition
    if metric.name in metrics and metrics[metric.name] is None:  # the run could not measure it: no points
        feedback = f"{metric.label} could not be measured for this submission: 0/{_points_text(criterion.points)}."
        return CriterionResult(criterion.id, criterion.title, metric.name, None, 0.0, criterion.points, feedback)
    value = _lookup(metrics, metric.name, file.at("criteria").at(index).at("metric"), "the submission's results")
    measured = Measured(
        metric.label,
        value,
        metric.format(value),
        metric.higher_is_better,
        _resolver(metric, metrics, references, file),
        file.source,
    )
    points, clause = criterion.policy.score(measured, criterion.points)
    points = round(points, 2)
    feedback = f"{clause}: {_points_text(points)}/{_points_text(criterion.points)}."
    return CriterionResult(criterion.id, criterion.title, metric.name, value, points, criterion.points, feedback)


def _resolver(
    metric: Metric, metrics: Mapping[str, object], references: Mapping[str, Mapping[str, float]], file: Where
) -> Callable[[Level], Resolved]:
    """Return a function that turns a level into a number for this metric."""

    def resolve(level: Level) -> Resolved:
        if isinstance(level, Absolute):
            return Resolved(level.value, metric.format(level.value))
        where = Where(file.source, level.field)
        base = _reference_value(level, metric, references, where)
        reference = _REFERENCE_NAMES[level.relative_to]
        if isinstance(level, Progress):
            start = _baseline_value(metric, metrics, where)
            value = start + level.fraction * (base - start)
            origin = (
                f"{level.fraction * 100:g}% of the way from the {metric.baseline} baseline, {metric.format(start)}, "
                f"to {reference}, {metric.format(base)}"
            )
            return Resolved(value, metric.format(value), origin)
        value = level.ratio * base
        return Resolved(value, metric.format(value), f"{level.ratio * 100:g}% of {reference}, {metric.format(base)}")

    return resolve


def _baseline_value(metric: Metric, metrics: Mapping[str, object], where: Where) -> float:
    """The metric's baseline measured in the same run (a random policy on the same episodes)."""
    baselines = metrics.get("baselines")
    found = baselines.get(metric.baseline) if isinstance(baselines, Mapping) else None
    if not isinstance(found, Mapping):
        raise where.error(f"the submission's results have no {metric.baseline} baseline for {metric.name}")
    return _lookup(found, metric.name, where, f"the {metric.baseline} baseline's results")


def _reference_value(
    level: Relative | Progress, metric: Metric, references: Mapping[str, Mapping[str, float]], where: Where
) -> float:
    """Return the reference result a relative level is a ratio of (best: the better of both)."""
    names = ("keras", "torch") if level.relative_to == "best" else (level.relative_to,)
    values = []
    for name in names:
        if name not in references:
            given = ", ".join(sorted(references)) or "none"
            problem = f"needs the {name} reference results for {metric.name}, but none were given (given: {given})"
            raise where.error(problem)
        values.append(_lookup(references[name], metric.name, where, f"the {name} reference results"))
    return max(values) if metric.higher_is_better else min(values)


def _lookup(results: Mapping[str, float], name: str, where: Where, subject: str) -> float:
    """Return results[name] as a finite float; raise SpecError at where, about subject, otherwise."""
    if name not in results:
        raise where.error(f"{subject} have no {name} (they have: {', '.join(sorted(results)) or 'nothing'})")
    value = results[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise where.error(f"{subject} have {name} = {value!r}, which is not a finite number")
    return float(value)


def _points_text(points: float) -> str:
    """Return points with at most 2 decimals and no trailing zeros: 60, 31.4, 7.25."""
    return f"{points:.2f}".rstrip("0").rstrip(".")
