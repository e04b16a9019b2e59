"""An assignment as staff describe it in assignments/<slug>/assignment.yaml."""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.core.errors import SpecError
from grader.core.kinds import KINDS, TaskKind, TaskSpec
from grader.core.limits import Limits
from grader.core.validate import SLUG, SLUG_RULE, Section, Where, describe, expect_choice, expect_list

TOPICS: dict[int, str] = {
    1: "intro and basic models",
    2: "training and improving networks",
    3: "image processing",
    4: "language processing",
    5: "advanced architectures",
    6: "generative models",
    7: "reinforcement learning",
}
FRAMEWORKS = ("keras", "torch", "lightning")

_KEYS = ("title", "topic", "task", "dataset", "frameworks", "training", "limits")  # and the task kind's own
_SEED_MAX = 2**32 - 1  # numpy's seeds stop here
# YAML key -> (Limits field, bytes per unit; None for seconds)
_LIMIT_KEYS: dict[str, tuple[str, int | None]] = {
    "wall_seconds": ("wall_seconds", None),
    "cpu_seconds": ("cpu_seconds", None),
    "memory_mb": ("memory_bytes", 1024**2),
    "max_processes": ("max_processes", 1),
    "output_kb": ("output_bytes", 1024),
    "disk_mb": ("disk_bytes", 1024**2),
}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Which registered data set to use, its seed, and its own options (checked by grader.datasets)."""

    name: str
    seed: int
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TrainingSpec:
    """The default training loop's settings, used when a student gives no train()."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 0.001
    seed: int = 0  # seeds python, numpy, torch and tensorflow


@dataclasses.dataclass(frozen=True)
class AssignmentSpec:
    """One assignment: what students build, on which data, under which limits."""

    slug: str
    title: str
    topic: int
    task: str
    task_spec: TaskSpec  # the kind's own keys, parsed by the kind
    dataset: DatasetSpec | None  # None: the kind uses none (rl)
    frameworks: tuple[str, ...]
    training: TrainingSpec
    limits: Limits

    @property
    def kind(self) -> TaskKind:
        """The task kind that grades this assignment."""
        return KINDS[self.task]


def parse_assignment(data: object, source: str, slug: str) -> AssignmentSpec:
    """Build an AssignmentSpec from parsed YAML; raise SpecError naming the bad field."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise SpecError(source, "", f"the assignment name {slug!r} must be made of {SLUG_RULE}")
    root = Section(data, Where(source))
    task = _parse_task(root)
    kind = KINDS[task]
    root.only(_KEYS + kind.keys, f"a {task} assignment")
    return AssignmentSpec(
        slug=slug,
        title=root.string("title"),
        topic=_parse_topic(root),
        task=task,
        task_spec=kind.parse(root),
        dataset=_parse_dataset(root, kind),
        frameworks=_parse_frameworks(root),
        training=_parse_training(
            root.section("training", ("epochs", "batch_size", "learning_rate", "seed"), optional=True)
        ),
        limits=_parse_limits(root.section("limits", _LIMIT_KEYS, optional=True)),
    )


def _parse_topic(root: Section) -> int:
    listing = ", ".join(f"{number} {name}" for number, name in TOPICS.items())
    return root.integer(
        "topic", minimum=1, maximum=len(TOPICS), what=f"a curriculum topic from 1 to {len(TOPICS)} ({listing})"
    )


def _parse_task(root: Section) -> str:
    return expect_choice(root.get("task"), root.at("task"), KINDS)


def _parse_dataset(root: Section, kind: TaskKind) -> DatasetSpec | None:
    """Read name and seed; every other key is an option of the named data set, checked against its declaration."""
    if not kind.uses_dataset:
        if "dataset" in root:
            raise root.at("dataset").error(f"{kind.name} assignments have no data set; remove it")
        return None
    section = root.section("dataset", None)
    options = {}
    for key, value in section.data.items():
        if key in ("name", "seed"):
            continue
        if isinstance(value, (dict, list)) or value is None:
            raise section.at(key).error(f"expected a number, text or true/false, got {describe(value)}")
        options[key] = value
    return DatasetSpec(
        name=section.slug("name"),
        seed=section.integer("seed", minimum=0, maximum=_SEED_MAX),
        options=options,
    )


def _parse_frameworks(root: Section) -> tuple[str, ...]:
    where = root.at("frameworks")
    values = expect_list(root.get("frameworks"), where, f"a non-empty list drawn from {', '.join(FRAMEWORKS)}")
    frameworks = tuple(expect_choice(value, where.at(index), FRAMEWORKS) for index, value in enumerate(values))
    for index, framework in enumerate(frameworks):
        if framework in frameworks[:index]:
            raise where.at(index).error(f'"{framework}" is listed twice; list each framework once')
    return frameworks


def _parse_training(section: Section) -> TrainingSpec:
    default = TrainingSpec()
    return TrainingSpec(
        epochs=section.integer("epochs", default.epochs, minimum=1),
        batch_size=section.integer("batch_size", default.batch_size, minimum=1),
        learning_rate=section.number("learning_rate", default.learning_rate, above=0),
        seed=section.integer("seed", default.seed, minimum=0, maximum=_SEED_MAX),
    )


def _parse_limits(section: Section) -> Limits:
    values: dict[str, float | int] = {}
    for key, (field, unit) in _LIMIT_KEYS.items():
        if key not in section:
            continue
        if unit is None:
            values[field] = section.number(key, above=0)
        else:
            values[field] = section.integer(key, minimum=1) * unit
    return Limits(**values)
