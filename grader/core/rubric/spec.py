"""A rubric as staff write it in rubrics/<slug>.yaml: criteria, each a metric scored by a policy."""

from __future__ import annotations

import dataclasses

from grader.core.rubric.policies import POLICIES, Level, Policy, Relative
from grader.core.validate import Section, Where

_CRITERION_KEYS = frozenset({"id", "title", "metric", "points", "policy"})


@dataclasses.dataclass(frozen=True)
class Metric:
    """A measured quantity a criterion can score, and how to show it."""

    name: str
    label: str  # starts a feedback sentence: "Accuracy 0.962 ..."
    higher_is_better: bool
    pattern: str  # str.format pattern for values and levels

    def format(self, value: float) -> str:
        """Return value as a student reads it."""
        return self.pattern.format(value)


METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", "Accuracy", True, "{:.3f}"),
    "macro_f1": Metric("macro_f1", "Macro F1", True, "{:.3f}"),
    "parameters": Metric("parameters", "Parameter count", False, "{:,.0f}"),
}


@dataclasses.dataclass(frozen=True)
class CriterionSpec:
    """One line of a rubric: a metric, the points at stake and the policy that awards them."""

    id: str
    title: str
    metric: str
    points: float
    policy: Policy


@dataclasses.dataclass(frozen=True)
class RubricSpec:
    """The criteria an assignment is scored by."""

    assignment: str
    criteria: tuple[CriterionSpec, ...]
    source: str = dataclasses.field(default="", compare=False)  # the file it came from, for errors

    @property
    def max_points(self) -> float:
        return sum(criterion.points for criterion in self.criteria)

    def references_needed(self) -> set[str]:
        """Return the reference solutions (keras, torch) whose results scoring needs."""
        needed: set[str] = set()
        for level in self._levels():
            if isinstance(level, Relative):
                needed |= {"keras", "torch"} if level.relative_to == "best" else {level.relative_to}
        return needed

    def _levels(self) -> list[Level]:
        return [level for criterion in self.criteria for level in criterion.policy.levels()]


def parse_rubric(data: object, source: str) -> RubricSpec:
    """Build a RubricSpec from parsed YAML; raise SpecError naming the bad field."""
    root = Section(data, Where(source), ("assignment", "criteria"))
    assignment = root.slug("assignment")
    criteria = tuple(_parse_criterion(value, where) for value, where in root.items("criteria"))
    seen: dict[str, int] = {}
    for index, criterion in enumerate(criteria):
        if criterion.id in seen:
            where = root.at("criteria").at(index).at("id")
            raise where.error(
                f'"{criterion.id}" is already the id of criteria[{seen[criterion.id]}]; ids must be unique'
            )
        seen[criterion.id] = index
    return RubricSpec(assignment, criteria, source)


def _parse_criterion(value: object, where: Where) -> CriterionSpec:
    section = Section(value, where)
    criterion_id = section.slug("id")
    name = section.choice("policy", POLICIES)
    policy = POLICIES[name]
    section.only(_CRITERION_KEYS | policy.PARAMETERS, f"a {name} criterion")
    points = section.number("points", above=0)
    return CriterionSpec(
        id=criterion_id,
        title=section.string("title"),
        metric=section.choice("metric", METRICS),
        points=points,
        policy=policy.parse(section, points),
    )
