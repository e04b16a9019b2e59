"""A rubric as staff write it in rubrics/<slug>.yaml: criteria, each a metric scored by a policy, and checks.

The metrics a rubric may name are those its assignment's task kind declares
(grader.core.kinds): a rubric is always parsed against them.

Points are earned only on what grader measures itself. A metric the run
reports about itself (the parameter count: the harness counts it inside the
sandbox, where the student's code can rewrite the report) can be forged, so a
criterion on it is refused. Such a limit is written as a *check* instead:

    checks:
      - id: parameter-budget
        title: Parameter budget
        metric: parameters
        at_most: 50000

A check earns nothing: the student sees the reported value against the limit,
and staff see the check flagged on the grading log when the reported value is
outside it (and every check as unverified), to verify in the code and
override the score if they must.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from grader.core.rubric.policies import POLICIES, Absolute, Level, Policy, Progress, Relative
from grader.core.validate import Section, Where

_CRITERION_KEYS = frozenset({"id", "title", "metric", "points", "policy"})
_CHECK_KEYS = ("id", "title", "metric", "at_most", "at_least")


@dataclasses.dataclass(frozen=True)
class Metric:
    """A measured quantity a criterion can score, and how to show it."""

    name: str
    label: str  # starts a feedback sentence: "Accuracy 0.962 ..."
    higher_is_better: bool
    pattern: str  # str.format pattern for values and levels
    relative: bool = True  # whether a threshold relative to a reference result makes sense
    # The results a `fraction` level starts from, in the run's metrics["baselines"] (e.g. "random": a
    # random policy on the same episodes); such metrics can be negative, so ratios of them are refused.
    baseline: str | None = None
    # True: the run reports it about itself (inside the sandbox), so it can be forged and earns no points.
    reported: bool = False

    def format(self, value: float) -> str:
        """Return value as a student reads it."""
        return self.pattern.format(value)


@dataclasses.dataclass(frozen=True)
class CriterionSpec:
    """One line of a rubric: a metric, the points at stake and the policy that awards them."""

    id: str
    title: str
    metric: str
    points: float
    policy: Policy
    definition: Metric  # the kind's declaration of `metric`: its label, direction and format


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    """A limit on a metric the run reports about itself: shown, flagged for staff, never scored."""

    id: str
    title: str
    metric: str
    bound: str  # "at_most" or "at_least"
    limit: float
    definition: Metric

    def within(self, value: float) -> bool:
        return value <= self.limit if self.bound == "at_most" else value >= self.limit


@dataclasses.dataclass(frozen=True)
class RubricSpec:
    """The criteria an assignment is scored by, and the checks staff verify."""

    assignment: str
    criteria: tuple[CriterionSpec, ...]
    source: str = dataclasses.field(default="", compare=False)  # the file it came from, for errors
    checks: tuple[CheckSpec, ...] = ()

    @property
    def max_points(self) -> float:
        return sum(criterion.points for criterion in self.criteria)

    def references_needed(self) -> set[str]:
        """Return the reference solutions (keras, torch) whose results scoring needs."""
        needed: set[str] = set()
        for level in self._levels():
            if isinstance(level, (Relative, Progress)):
                needed |= {"keras", "torch"} if level.relative_to == "best" else {level.relative_to}
        return needed

    def _levels(self) -> list[Level]:
        return [level for criterion in self.criteria for level in criterion.policy.levels()]


def parse_rubric(data: object, source: str, metrics: Mapping[str, Metric]) -> RubricSpec:
    """Build a RubricSpec from parsed YAML against the metrics of its assignment's kind.

    Raise SpecError naming the bad field.
    """
    root = Section(data, Where(source), ("assignment", "criteria", "checks"))
    assignment = root.slug("assignment")
    criteria = tuple(_parse_criterion(value, where, metrics) for value, where in root.items("criteria"))
    checks = ()
    if root.get("checks", None) is not None:
        checks = tuple(_parse_check(value, where, metrics) for value, where in root.items("checks"))
    seen: dict[str, str] = {}
    for part, items in (("criteria", criteria), ("checks", checks)):
        for index, item in enumerate(items):
            if item.id in seen:
                where = root.at(part).at(index).at("id")
                raise where.error(f'"{item.id}" is already the id of {seen[item.id]}; ids must be unique')
            seen[item.id] = f"{part}[{index}]"
    return RubricSpec(assignment, criteria, source, checks)


def _parse_check(value: object, where: Where, metrics: Mapping[str, Metric]) -> CheckSpec:
    section = Section(value, where, _CHECK_KEYS)
    check_id = section.slug("id")
    metric = metrics[section.choice("metric", metrics)]
    if not metric.reported:
        raise section.at("metric").error(
            f"{metric.name} is measured by grader itself, so it can earn points: score it as a criterion "
            "instead; checks are for what the run reports about itself"
        )
    bounds = [bound for bound in ("at_most", "at_least") if bound in section]
    if len(bounds) != 1:
        raise where.error("a check needs exactly one of at_most or at_least (the limit the reported value must keep)")
    limit = section.number(bounds[0])
    return CheckSpec(check_id, section.string("title"), metric.name, bounds[0], limit, metric)


def _parse_criterion(value: object, where: Where, metrics: Mapping[str, Metric]) -> CriterionSpec:
    section = Section(value, where)
    criterion_id = section.slug("id")
    name = section.choice("policy", POLICIES)
    policy_class = POLICIES[name]
    section.only(_CRITERION_KEYS | policy_class.PARAMETERS, f"a {name} criterion")
    points = section.number("points", above=0)
    metric = metrics[section.choice("metric", metrics)]
    if metric.reported:
        raise section.at("metric").error(
            f"{metric.name} is reported by the submission's own run, which can forge it (its code can rewrite "
            "the report before it exits), so it cannot earn points; write it under `checks:` (shown to the "
            "student as reported, flagged for staff when outside the limit) or score a metric grader measures"
        )
    policy = policy_class.parse(section, points)
    policy.check_direction(metric.higher_is_better, metric.name, where.source)
    for level in policy.levels():
        _check_level(level, metric, Where(where.source, level.field))
    return CriterionSpec(
        id=criterion_id,
        title=section.string("title"),
        metric=metric.name,
        points=points,
        policy=policy,
        definition=metric,
    )


def _check_level(level: Level, metric: Metric, where: Where) -> None:
    """Refuse a level of a kind the metric cannot be compared with."""
    if isinstance(level, Absolute):
        return
    if not metric.relative:
        raise where.error(
            f"{metric.name} cannot be relative to a reference result ({metric.label.lower()} is compared "
            "with fixed numbers only); write a number instead"
        )
    if isinstance(level, Relative) and metric.baseline:
        raise where.error(
            f"{metric.name} can be negative, so a ratio of a reference result means nothing; write "
            f"{{relative_to: {level.relative_to}, fraction: 0.9}} (90% of the way from the {metric.baseline} "
            "baseline to the reference) or a number"
        )
    if isinstance(level, Progress) and not metric.baseline:
        raise where.error(
            f"{metric.name} has no baseline to measure a fraction of the way from; write "
            f"{{relative_to: {level.relative_to}, ratio: {level.fraction:g}}} or a number"
        )
