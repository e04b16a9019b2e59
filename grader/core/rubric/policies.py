"""Scoring policies: small pure classes registered by name.

A rubric criterion names its policy (`policy: linear`); the policy reads and
checks its own parameters when the rubric is parsed (`parse`), and later turns
a measured value into points and the start of a feedback sentence (`score`).

Thresholds ("levels") are a number, or a ratio of a reference result:
`{relative_to: keras, ratio: 0.97}`. Scoring resolves them against the
reference results of the day; a policy only sees resolved levels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar, Protocol

from grader.core.validate import Section, Where, expect_number

REFERENCES = ("keras", "torch", "best")  # best: the better of keras and torch for the metric
TOLERANCE = 1e-9  # float noise forgiven when a value is compared with a level


@dataclasses.dataclass(frozen=True)
class Absolute:
    """A fixed level, e.g. 0.9."""

    value: float
    field: str = dataclasses.field(default="", compare=False)  # where it was written, for errors


@dataclasses.dataclass(frozen=True)
class Relative:
    """A level that is a ratio of a reference result, e.g. 97% of Keras."""

    relative_to: str
    ratio: float
    field: str = dataclasses.field(default="", compare=False)


@dataclasses.dataclass(frozen=True)
class Progress:
    """A level part of the way from the metric's baseline (a random policy, say) to a reference result.

    For metrics whose values can be negative (returns), where a ratio means nothing:
    fraction 0.9 of the way from a random policy's 20 to a reference's 500 is 452.
    """

    relative_to: str
    fraction: float
    field: str = dataclasses.field(default="", compare=False)


Level = Absolute | Relative | Progress


def parse_level(value: object, where: Where) -> Level:
    """Read a level: a number, {relative_to: keras|torch|best, ratio: r} or {relative_to: ..., fraction: f}."""
    if isinstance(value, dict):
        section = Section(value, where, ("relative_to", "ratio", "fraction"))
        relative_to = section.choice("relative_to", REFERENCES)
        if ("ratio" in section) == ("fraction" in section):
            raise where.error("needs exactly one of ratio (of the reference result) or fraction (of the way to it)")
        if "fraction" in section:
            return Progress(relative_to, section.number("fraction", minimum=0), where.field)
        return Relative(relative_to, section.number("ratio", above=0), where.field)
    what = f"a number or {{relative_to: {'|'.join(REFERENCES)}, ratio: a number > 0}}"
    return Absolute(expect_number(value, where, what=what), where.field)


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A level turned into a number, with the words that explain it."""

    value: float
    shown: str  # the value as a student reads it: "0.955"
    origin: str = ""  # for relative levels: "98% of the best reference, 0.974"

    def text(self, note: str = "") -> str:
        """Return the level for a sentence, e.g. '0.955 (full points; 98% of the best reference, 0.974)'."""
        extra = "; ".join(part for part in (note, self.origin) if part)
        return f"{self.shown} ({extra})" if extra else self.shown


@dataclasses.dataclass(frozen=True)
class Measured:
    """What a policy judges: one measured value and how to read its levels."""

    label: str  # "Accuracy"
    value: float
    shown: str  # "0.962"
    higher_is_better: bool
    resolve: Callable[[Level], Resolved]
    source: str = ""  # the rubric file, for errors in its levels

    def __str__(self) -> str:
        return f"{self.label} {self.shown}"


@dataclasses.dataclass(frozen=True)
class Bound:
    """A level a value must reach from below (at least) or from above (at most)."""

    at_least: bool
    level: Level

    @property
    def words(self) -> str:
        return "at least" if self.at_least else "at most"

    def reached(self, value: float, level: float) -> bool:
        """Return whether value is on the good side of the resolved level."""
        return value >= level - TOLERANCE if self.at_least else value <= level + TOLERANCE

    def check_direction(self, higher_is_better: bool, name: str, source: str) -> None:
        """Refuse a bound that rewards worse results: at_least on a metric where lower is better, say."""
        if self.at_least != higher_is_better:
            right = "at_least" if higher_is_better else "at_most"
            raise Where(source, self.level.field).error(
                f"{name} is better when {'higher' if higher_is_better else 'lower'}, so {self.words} would reward "
                f"worse results; write {right}"
            )


def parse_bound(section: Section) -> Bound:
    """Read exactly one of at_least / at_most from section."""
    present = [key for key in ("at_least", "at_most") if key in section]
    if len(present) != 1:
        raise section.where.error("needs exactly one of at_least or at_most" + (", not both" if present else ""))
    key = present[0]
    return Bound(key == "at_least", parse_level(section.get(key), section.at(key)))


class Policy(Protocol):
    """What every scoring policy offers."""

    PARAMETERS: ClassVar[frozenset[str]]  # the criterion keys the policy reads

    @classmethod
    def parse(cls, section: Section, points: float) -> Policy:
        """Read and check the policy's parameters from its criterion."""

    def levels(self) -> tuple[Level, ...]:
        """Return every level the policy uses."""

    def check_direction(self, higher_is_better: bool, name: str, source: str) -> None:
        """Raise SpecError when the policy would give more points for a worse value of the metric."""

    def score(self, measured: Measured, points: float) -> tuple[float, str]:
        """Return the points earned out of points, and a clause saying why."""


@dataclasses.dataclass(frozen=True)
class Threshold:
    """All points when the value reaches one level, none otherwise."""

    PARAMETERS: ClassVar[frozenset[str]] = frozenset({"at_least", "at_most"})
    bound: Bound

    @classmethod
    def parse(cls, section: Section, points: float) -> Threshold:
        return cls(parse_bound(section))

    def levels(self) -> tuple[Level, ...]:
        return (self.bound.level,)

    def check_direction(self, higher_is_better: bool, name: str, source: str) -> None:
        self.bound.check_direction(higher_is_better, name, source)

    def score(self, measured: Measured, points: float) -> tuple[float, str]:
        level = measured.resolve(self.bound.level)
        met = self.bound.reached(measured.value, level.value)
        verb = "meets" if met else "misses"
        return (points if met else 0.0), f"{measured} {verb} the requirement of {self.bound.words} {level.text()}"


@dataclasses.dataclass(frozen=True)
class Linear:
    """Points interpolated from zero_at (none) to full_at (all), in either direction."""

    PARAMETERS: ClassVar[frozenset[str]] = frozenset({"zero_at", "full_at"})
    zero_at: Level
    full_at: Level

    @classmethod
    def parse(cls, section: Section, points: float) -> Linear:
        zero_at = parse_level(section.get("zero_at"), section.at("zero_at"))
        full_at = parse_level(section.get("full_at"), section.at("full_at"))
        if zero_at == full_at:
            raise section.where.error("zero_at and full_at are the same level; they must differ")
        return cls(zero_at, full_at)

    def levels(self) -> tuple[Level, ...]:
        return (self.zero_at, self.full_at)

    def check_direction(self, higher_is_better: bool, name: str, source: str) -> None:
        """Levels comparable before scoring (two numbers, or two ratios of one reference) must run the metric's way."""
        zero, full = self.zero_at, self.full_at
        where = Where(source, full.field)
        if isinstance(zero, Absolute) and isinstance(full, Absolute):
            _check_run(zero.value, full.value, higher_is_better, name, where)
        elif isinstance(zero, Relative) and isinstance(full, Relative) and zero.relative_to == full.relative_to:
            shown = (f"ratio {zero.ratio:g}", f"ratio {full.ratio:g}")
            _check_run(zero.ratio, full.ratio, higher_is_better, name, where, shown)
        elif isinstance(zero, Progress) and isinstance(full, Progress) and zero.relative_to == full.relative_to:
            # a fraction further along the way is better in either direction
            shown = (f"fraction {zero.fraction:g}", f"fraction {full.fraction:g}")
            _check_run(zero.fraction, full.fraction, True, name, where, shown)
        # otherwise compared when scoring, once the reference results are known

    def score(self, measured: Measured, points: float) -> tuple[float, str]:
        zero, full = measured.resolve(self.zero_at), measured.resolve(self.full_at)
        rising = measured.higher_is_better
        if full.value != zero.value:
            where = Where(measured.source, self.full_at.field)
            _check_run(zero.value, full.value, rising, measured.label.lower(), where, (zero.text(), full.text()))
        fraction = _fraction(measured.value, zero.value, full.value, rising)
        if fraction == 1.0:
            return points, f"{measured} reached the full-marks level {full.text()}"
        if fraction == 0.0:
            return 0.0, f"{measured} is not {'above' if rising else 'below'} {zero.text('no points')}"
        return points * fraction, f"{measured} is between {zero.text('no points')} and {full.text('full points')}"


def _check_run(
    zero: float, full: float, higher_is_better: bool, name: str, where: Where, shown: tuple[str, str] | None = None
) -> None:
    """Raise SpecError at `where` unless full_at is better than zero_at for the metric."""
    if (full > zero) == higher_is_better and full != zero:
        return
    zero_text, full_text = shown or (f"{zero:g}", f"{full:g}")
    better = "higher" if higher_is_better else "lower"
    raise where.error(
        f"full_at must be {better} than zero_at, since {name} is better when {better}; "
        f"here full_at is {full_text} and zero_at {zero_text}"
    )


def _fraction(value: float, zero: float, full: float, rising: bool) -> float:
    """Return how far value got from zero to full, clamped to 0..1."""
    sign = 1.0 if rising else -1.0
    gain, span = sign * (value - zero), sign * (full - zero)
    if gain >= span - TOLERANCE:
        return 1.0
    if gain <= TOLERANCE:
        return 0.0
    return gain / span


@dataclasses.dataclass(frozen=True)
class Band:
    """One band: the points given when its bound is reached."""

    bound: Bound
    points: float


@dataclasses.dataclass(frozen=True)
class Bands:
    """The most points among the bands the value reaches; none if it reaches none."""

    PARAMETERS: ClassVar[frozenset[str]] = frozenset({"bands"})
    bands: tuple[Band, ...]

    @classmethod
    def parse(cls, section: Section, points: float) -> Bands:
        return cls(tuple(_parse_band(value, where, points) for value, where in section.items("bands")))

    def levels(self) -> tuple[Level, ...]:
        return tuple(band.bound.level for band in self.bands)

    def check_direction(self, higher_is_better: bool, name: str, source: str) -> None:
        for band in self.bands:
            band.bound.check_direction(higher_is_better, name, source)

    def score(self, measured: Measured, points: float) -> tuple[float, str]:
        reached = [
            band for band in self.bands if band.bound.reached(measured.value, measured.resolve(band.bound.level).value)
        ]
        if not reached:
            lowest = min(self.bands, key=lambda band: band.points)
            level = measured.resolve(lowest.bound.level)
            return 0.0, f"{measured} reached no band; the lowest asks for {lowest.bound.words} {level.text()}"
        best = max(reached, key=lambda band: band.points)
        level = measured.resolve(best.bound.level)
        return best.points, f"{measured} reached the band for {best.bound.words} {level.text()}"


def _parse_band(value: object, where: Where, points: float) -> Band:
    section = Section(value, where, ("at_least", "at_most", "points"))
    bound = parse_bound(section)
    what = f"a number from 0 to {points:g} (the criterion's points)"
    return Band(bound, section.number("points", minimum=0, maximum=points, what=what))


POLICIES: dict[str, type[Policy]] = {"threshold": Threshold, "linear": Linear, "bands": Bands}
