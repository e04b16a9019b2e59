"""The course grade, as rubrics/course.yaml describes it: weighted components and their sources.

Components form a tree. Each level's weights are percentages of their parent
and add up to 100; a leaf takes its score (0 to 100) from a source:

- `staff`: entered by staff in a form or with `grader scores import FILE.csv
  --component ID` (the theory exam, the article summaries);
- `{assignment: SLUG}`: one autograded assignment's final grade, as a
  percentage of its points;
- `{assignments: [SLUG, ...]}`: the mean of several (the homework).

`homework` is a top-level component of its own whose weight defaults to 0:
shown to students, formative, never part of the final.

A student expects a final grade only when it is one: `final` is None while a
counted component (weight above 0) has no score; `provisional` is then the
points secured so far out of 100 (missing components count 0), and `missing`
lists what is still to come. All weights come from the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Collection, Mapping
from typing import Any

from grader.core.validate import Section, Where, describe, expect_list, expect_slug

_KEYS = ("timezone", "offering", "components", "homework")
_COMPONENT_KEYS = ("id", "title", "weight", "description", "source", "components")
_SOURCE_RULE = "staff, {assignment: SLUG} or {assignments: [SLUG, ...]}"
_WEIGHT_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a leaf component's score comes from."""

    kind: str  # "staff", "assignment" or "assignments"
    assignments: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "staff":
            return "entered by staff"
        if self.kind == "assignment":
            return f"the autograded assignment {self.assignments[0]}"
        return f"the mean of the autograded assignments {', '.join(self.assignments)}"


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """One part of the course grade: a weight within its parent, and a source or sub-components."""

    id: str
    title: str
    weight: float  # percent of the parent
    source: Source | None = None  # None for a component made of sub-components
    children: tuple[ComponentSpec, ...] = ()
    description: str = ""


@dataclasses.dataclass(frozen=True)
class CourseDate:
    """A date of the offering: a deadline (one day) or an exam (first and last day)."""

    title: str
    start: dt.date
    end: dt.date

    def describe(self) -> str:
        day = "%d %b %Y"
        if self.start == self.end:
            return f"{self.title}: {self.start.strftime(day).lstrip('0')}"
        return f"{self.title}: {self.start.strftime(day).lstrip('0')} to {self.end.strftime(day).lstrip('0')}"


@dataclasses.dataclass(frozen=True)
class CourseSpec:
    """The course: its time zone, the offering's dates and the components of the grade."""

    components: tuple[ComponentSpec, ...]
    tz: dt.tzinfo
    offering: str
    dates: tuple[CourseDate, ...]
    source: str = dataclasses.field(default="", compare=False)

    def leaves(self) -> list[ComponentSpec]:
        """Return the components that have a source, depth first."""
        return [leaf for component in self.components for leaf in _leaves(component)]

    def staff_component(self, component_id: str) -> ComponentSpec:
        """Return the staff-entered component with this id; raise ValueError naming the valid ones."""
        staff = [leaf for leaf in self.leaves() if leaf.source is not None and leaf.source.kind == "staff"]
        for leaf in staff:
            if leaf.id == component_id:
                return leaf
        names = ", ".join(leaf.id for leaf in staff) or "none"
        raise ValueError(f"{component_id!r} is not a component whose scores staff enter; those are: {names}")

    def formula(self) -> str:
        """Return the weighting as a formula: "0.3 × theory + 0.7 × (0.2 × summaries + 0.8 × project)"."""
        return _formula(self.components)


def _leaves(component: ComponentSpec) -> list[ComponentSpec]:
    if not component.children:
        return [component]
    return [leaf for child in component.children for leaf in _leaves(child)]


def _formula(components: tuple[ComponentSpec, ...]) -> str:
    terms = []
    for component in components:
        if not component.weight:
            continue
        inner = f"({_formula(component.children)})" if component.children else component.id
        terms.append(f"{component.weight / 100:g} × {inner}")
    return " + ".join(terms)


def parse_course(data: object, source: str, known_assignments: Collection[str] | None = None) -> CourseSpec:
    """Build a CourseSpec from parsed YAML; raise SpecError naming the bad field.

    known_assignments, when given, are the assignment slugs a source may name.
    """
    root = Section(data, Where(source), _KEYS)
    tz = _parse_timezone(root)
    offering, dates = _parse_offering(root)
    components = [_parse_component(value, where, known_assignments) for value, where in root.items("components")]
    if root.get("homework", None) is not None:
        components.append(_parse_homework(root.section("homework", ("weight", "assignments")), known_assignments))
    components_tuple = tuple(components)
    _check_weights(components_tuple, root.at("components"), "the top level (homework included)")
    _check_unique_ids(components_tuple, root.at("components"))
    return CourseSpec(components_tuple, tz, offering, dates, source)


def _parse_timezone(root: Section) -> dt.tzinfo:
    name = root.get("timezone", "UTC")
    where = root.at("timezone")
    if not isinstance(name, str) or not name.strip():
        raise where.expected("a time zone name like UTC or Europe/Berlin", name)
    if name.strip() == "UTC":
        return dt.timezone.utc  # needs no time zone database (slim images may lack one)
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise where.error(f"unknown time zone {describe(name)}; use a name like UTC or Europe/Berlin") from None


def _parse_offering(root: Section) -> tuple[str, tuple[CourseDate, ...]]:
    if root.get("offering", None) is None:
        return "", ()
    section = root.section("offering", ("name", "dates"))
    name = section.string("name")
    dates = tuple(_parse_date(value, where) for value, where in section.items("dates"))
    return name, dates


def _parse_date(value: object, where: Where) -> CourseDate:
    section = Section(value, where, ("title", "date", "start", "end"))
    title = section.string("title")
    if "date" in section:
        if "start" in section or "end" in section:
            raise where.error("give either date, or start and end, not both")
        day = _expect_date(section.get("date"), section.at("date"))
        return CourseDate(title, day, day)
    start = _expect_date(section.get("start"), section.at("start"))
    end = _expect_date(section.get("end"), section.at("end"))
    if end < start:
        raise section.at("end").error(f"{end.isoformat()} is before start ({start.isoformat()})")
    return CourseDate(title, start, end)


def _expect_date(value: object, where: Where) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise where.expected("a date like 2025-02-13", value)


def _parse_component(value: object, where: Where, known: Collection[str] | None) -> ComponentSpec:
    section = Section(value, where, _COMPONENT_KEYS)
    component_id = section.slug("id")
    weight = section.number("weight", minimum=0, maximum=100, what="a percentage of its parent, from 0 to 100")
    description = section.string("description") if "description" in section else ""
    has_source, has_children = "source" in section, "components" in section
    if has_source == has_children:
        raise where.error(
            "needs either a source or sub-components (components), " + ("not both" if has_source else "and has neither")
        )
    if has_source:
        source = _parse_source(section.get("source"), section.at("source"), known)
        return ComponentSpec(component_id, section.string("title"), weight, source, (), description)
    children = tuple(_parse_component(child, at, known) for child, at in section.items("components"))
    _check_weights(children, section.at("components"), component_id)
    return ComponentSpec(component_id, section.string("title"), weight, None, children, description)


def _parse_source(value: object, where: Where, known: Collection[str] | None) -> Source:
    if value == "staff":
        return Source("staff")
    if isinstance(value, dict) and len(value) == 1 and set(value) <= {"assignment", "assignments"}:
        if "assignment" in value:
            slugs = [_known_slug(value["assignment"], where.at("assignment"), known)]
        else:
            at = where.at("assignments")
            items = expect_list(value["assignments"], at, "a non-empty list of assignment names")
            slugs = [_known_slug(item, at.at(index), known) for index, item in enumerate(items)]
            for index, slug in enumerate(slugs):
                if slug in slugs[:index]:
                    raise at.at(index).error(f'"{slug}" is listed twice; list each assignment once')
        return Source("assignment" if "assignment" in value else "assignments", tuple(slugs))
    raise where.expected(_SOURCE_RULE, value)


def _known_slug(value: object, where: Where, known: Collection[str] | None) -> str:
    slug = expect_slug(value, where)
    if known is not None and slug not in known:
        listing = ", ".join(sorted(known)) or "none"
        raise where.error(f'"{slug}" is not an assignment (the assignments are: {listing})')
    return slug


def _parse_homework(section: Section, known: Collection[str] | None) -> ComponentSpec:
    weight = section.number("weight", 0, minimum=0, maximum=100, what="a percentage of the final, from 0 to 100")
    source = _parse_source({"assignments": section.get("assignments")}, section.where, known)
    return ComponentSpec("homework", "Homework", weight, source, (), "formative" if not weight else "")


def _check_weights(components: tuple[ComponentSpec, ...], where: Where, level: str) -> None:
    total = sum(component.weight for component in components)
    if abs(total - 100) > _WEIGHT_TOLERANCE:
        terms = " + ".join(f"{c.id} {c.weight:g}" for c in components)
        raise where.error(f"the weights of {level} add up to {total:g} ({terms}); they must add up to 100")


def _check_unique_ids(components: tuple[ComponentSpec, ...], where: Where) -> None:
    seen: set[str] = set()
    for component in components:
        for node in _walk(component):
            if node.id in seen:
                raise where.error(f'the id "{node.id}" is used twice; each component needs its own id')
            seen.add(node.id)


def _walk(component: ComponentSpec) -> list[ComponentSpec]:
    return [component, *(node for child in component.children for node in _walk(child))]


@dataclasses.dataclass(frozen=True)
class ComponentResult:
    """A component of one student's grade: its score, its weight and what it adds to the final."""

    id: str
    title: str
    weight: float  # percent of the parent, from the file
    share: float  # percent of the final (the product of the weights above it)
    source: str  # how the score is obtained, in words
    score: float | None  # 0 to 100; None while missing
    contribution: float  # points of the final (out of 100) it secures so far
    children: tuple[ComponentResult, ...] = ()
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["children"] = [child.to_json() for child in self.children]
        return data


@dataclasses.dataclass(frozen=True)
class CourseGrade:
    """One student's course grade: each component, the final when complete, and what is missing."""

    components: tuple[ComponentResult, ...]
    final: float | None  # None while a counted component is missing
    provisional: float  # points out of 100 secured so far (missing ones count 0)
    missing: tuple[str, ...]  # ids of counted components without a score
    explanation: str

    def to_json(self) -> dict[str, Any]:
        """The shape of GET /api/v1/grades/me."""
        return {
            "components": [component.to_json() for component in self.components],
            "final": self.final,
            "provisional": self.provisional,
            "missing": list(self.missing),
            "explanation": self.explanation,
        }


def compute_course_grade(
    course: CourseSpec,
    staff_scores: Mapping[str, float],
    assignment_percents: Mapping[str, float | None],
) -> CourseGrade:
    """Weigh one student's component scores into the course grade.

    staff_scores maps staff component ids to 0-100; assignment_percents maps
    assignment slugs to their final grade in percent (None or absent: not known yet).
    Scores of components the file no longer has, or no longer takes from
    staff, are ignored: a course file edit must not break a student's page.
    """
    for component_id, score in staff_scores.items():
        if not 0 <= score <= 100:
            raise ValueError(f"the score of {component_id} must be from 0 to 100, got {score:g}")
    results = tuple(_result(c, 100.0, staff_scores, assignment_percents) for c in course.components)
    missing = tuple(
        r.id for top in results for r in _walk_results(top) if not r.children and r.score is None and r.share
    )
    provisional = round(sum(r.contribution for r in results), 2)
    final = provisional if not missing else None
    if final is not None:
        explanation = f"final = {course.formula()} = {_substituted(results)} = {final:g}"
    else:
        titles = ", ".join(r.title for top in results for r in _walk_results(top) if r.id in missing)
        still = sum(r.share for top in results for r in _walk_results(top) if r.id in missing)
        explanation = (
            f"not final yet: missing {titles}; {provisional:g} of 100 points secured so far, "
            f"{still:g} more at stake (final = {course.formula()})"
        )
    return CourseGrade(results, final, provisional, missing, explanation)


def _result(
    component: ComponentSpec,
    parent_share: float,
    staff_scores: Mapping[str, float],
    assignment_percents: Mapping[str, float | None],
) -> ComponentResult:
    share = round(parent_share * component.weight / 100, 6)
    children = tuple(_result(c, share, staff_scores, assignment_percents) for c in component.children)
    if component.source is None:
        complete = all(child.score is not None for child in children if child.weight)
        score = round(sum(c.weight * (c.score or 0) for c in children) / 100, 2) if complete else None
        contribution, source = sum(child.contribution for child in children), "weighted sub-components"
    else:
        score = _leaf_score(component.id, component.source, staff_scores, assignment_percents)
        contribution, source = (share * score / 100 if score is not None else 0.0), component.source.describe()
    return ComponentResult(
        id=component.id,
        title=component.title,
        weight=component.weight,
        share=share,
        source=source,
        score=score,
        contribution=round(contribution, 4),
        children=children,
        description=component.description,
    )


def _leaf_score(
    component_id: str,
    source: Source,
    staff_scores: Mapping[str, float],
    assignment_percents: Mapping[str, float | None],
) -> float | None:
    if source.kind == "staff":
        score = staff_scores.get(component_id)
        return None if score is None else float(score)
    values = [assignment_percents.get(slug) for slug in source.assignments]
    known = [value for value in values if value is not None]
    if len(known) < len(values):
        return None
    return round(sum(known) / len(known), 2)


def _walk_results(result: ComponentResult) -> list[ComponentResult]:
    return [result, *(node for child in result.children for node in _walk_results(child))]


def _substituted(results: tuple[ComponentResult, ...]) -> str:
    terms = []
    for result in results:
        if not result.weight:
            continue
        inner = f"({_substituted(result.children)})" if result.children else f"{result.score:g}"
        terms.append(f"{result.weight / 100:g} × {inner}")
    return " + ".join(terms)
