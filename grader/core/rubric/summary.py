"""A rubric in words, for the student's assignment page: what each criterion measures and asks, and its points.

Students read how they are graded before they submit, so every threshold is
spelled out, relative ones included ("at least 97% of the Keras reference"),
with today's value of the reference when the course's reference solutions
have been measured. Pure: the rubric and the references' results in, text out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from grader.core.rubric.policies import Absolute, Bands, Bound, Level, Linear, Progress, Relative, Threshold
from grader.core.rubric.spec import CheckSpec, CriterionSpec, Metric, RubricSpec

REFERENCE_NAMES = {
    "keras": "the Keras reference",
    "torch": "the PyTorch reference",
    "best": "the best reference (the better of the Keras and PyTorch ones)",
}
References = Mapping[str, Mapping[str, object]]


@dataclasses.dataclass(frozen=True)
class CriterionSummary:
    """One line of the summary: a criterion (points > 0) or a check (never points)."""

    title: str
    points: float | None  # None: a check, which earns nothing
    rule: str


@dataclasses.dataclass(frozen=True)
class RubricSummary:
    """The rubric as students read it."""

    lines: tuple[CriterionSummary, ...]
    max_points: float


def summarise_rubric(rubric: RubricSpec, references: References | None = None) -> RubricSummary:
    """Return each criterion and check of the rubric in words, with its points."""
    refs = references or {}
    lines = [CriterionSummary(c.title, c.points, describe_criterion(c, refs)) for c in rubric.criteria]
    lines += [CriterionSummary(check.title, None, describe_check(check)) for check in rubric.checks]
    return RubricSummary(tuple(lines), rubric.max_points)


def describe_criterion(criterion: CriterionSpec, references: References) -> str:
    """Say how the criterion's points are earned: "Accuracy at least 0.900: all 10 points, otherwise none."."""
    metric, points, policy = criterion.definition, _points(criterion.points), criterion.policy
    label = metric.label[:1].lower() + metric.label[1:]
    if isinstance(policy, Threshold):
        text = f"{_bound(label, policy.bound, metric, references)}: all {points} points, otherwise none."
    elif isinstance(policy, Linear):
        zero, full = _level(policy.zero_at, metric, references), _level(policy.full_at, metric, references)
        better, worse = ("above", "below") if metric.higher_is_better else ("below", "above")
        text = (
            f"All {points} points for {label} at {full} or {better}; none at {zero} or {worse}; in proportion between."
        )
    elif isinstance(policy, Bands):
        ordered = sorted(policy.bands, key=lambda band: -band.points)
        bands = "; ".join(
            f"{_points(band.points)} points for {_bound(label, band.bound, metric, references)}" for band in ordered
        )
        text = f"{bands}; otherwise none."
    else:
        text = f"Up to {points} points on {label}."
    return text[:1].upper() + text[1:]


def describe_check(check: CheckSpec) -> str:
    """Say what a check asks and that it earns nothing: the run reports the value about itself."""
    words = "at most" if check.bound == "at_most" else "at least"
    return (
        f"{check.definition.label} {words} {check.definition.format(check.limit)}. Not scored: your run reports "
        "this itself, so staff check it and may adjust your score."
    )


def _bound(label: str, bound: Bound, metric: Metric, references: References) -> str:
    return f"{label} {bound.words} {_level(bound.level, metric, references)}"


def _level(level: Level, metric: Metric, references: References) -> str:
    """A level as a student reads it; a relative one names its reference and, when known, today's value."""
    if isinstance(level, Absolute):
        return metric.format(level.value)
    reference = REFERENCE_NAMES.get(level.relative_to, level.relative_to)
    base = _reference_value(level.relative_to, metric, references)
    if isinstance(level, Relative):
        now = f" (now {metric.format(level.ratio * base)})" if base is not None else ""
        return f"{level.ratio * 100:g}% of {reference}{now}"
    assert isinstance(level, Progress)
    return f"{level.fraction * 100:g}% of the way from the {metric.baseline} baseline to {reference}"


def _reference_value(relative_to: str, metric: Metric, references: References) -> float | None:
    """The reference result a ratio is taken of (best: the better one), or None before references are measured."""
    names = ("keras", "torch") if relative_to == "best" else (relative_to,)
    values = []
    for name in names:
        results = references.get(name)
        value = results.get(metric.name) if isinstance(results, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        values.append(float(value))
    return max(values) if metric.higher_is_better else min(values)


def _points(points: float) -> str:
    return f"{points:.2f}".rstrip("0").rstrip(".")
