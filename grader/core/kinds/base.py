"""The interface every task kind implements (see grader.core.kinds)."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from grader.core.rubric.spec import Metric
from grader.core.validate import Section, Where


class TaskSpec:
    """A kind's own part of an assignment (a frozen dataclass in each kind)."""


@dataclasses.dataclass(frozen=True)
class Aids:
    """What the trusted side hands a kind's `score` besides the run's outputs and the data."""

    documents: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the data set's (a vocabulary, say)
    judge: Any = None  # the trained judge network (grader.judges), for kinds that need one
    live: Any = None  # what grader recorded while it drove the run over the live channel (kinds that are `live`)


class TaskKind(abc.ABC):
    """One kind of work: from its assignment.yaml keys to its feedback."""

    name: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]  # its top-level keys in assignment.yaml
    metrics: ClassVar[Mapping[str, Metric]]  # what rubrics of its assignments may score
    reported: ClassVar[tuple[str, ...]] = ()  # metrics the run reports about itself (Metric.reported); set below
    summary_metrics: ClassVar[tuple[str, ...]]  # shown in one-line summaries (CLI, reference builds)
    feedback_template: ClassVar[str]  # the result page's section for this kind (grader/web/templates)
    needs_judge: ClassVar[bool] = False  # scoring needs grader's own judge network, trained on the data set
    uses_dataset: ClassVar[bool] = True  # False: no `dataset` in assignment.yaml (an agent learns from its environment)
    live: ClassVar[bool] = False  # evaluated over a live channel by a trusted driver (grader.services.episodes)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "metrics" in cls.__dict__:  # one source: the metrics' own declaration
            cls.reported = tuple(name for name, metric in cls.metrics.items() if metric.reported)

    @abc.abstractmethod
    def parse(self, root: Section) -> TaskSpec:
        """Read the kind's keys of an assignment; raise SpecError naming the bad field."""

    @abc.abstractmethod
    def check_data(
        self, spec: TaskSpec, public: Mapping[str, np.ndarray], hidden: Mapping[str, np.ndarray], where: Where
    ) -> None:
        """Raise SpecError (at `where`, the dataset field) unless the prepared data fits the declared shapes."""

    @abc.abstractmethod
    def job(self, spec: TaskSpec, public: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The harness protocol's parameters for this kind: plain JSON."""

    @abc.abstractmethod
    def outputs(self, spec: TaskSpec) -> tuple[str, ...]:
        """The arrays a run must write (each as <name>.npy in its output folder)."""

    def optional_outputs(self, spec: TaskSpec) -> tuple[str, ...]:
        """The arrays a run may write besides `outputs` (a sample text, say): scored when present."""
        return ()

    @abc.abstractmethod
    def score(
        self, spec: TaskSpec, outputs: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray], aids: Aids
    ) -> dict[str, Any]:
        """Check a run's outputs against the data (public and hidden); return the trusted metrics.

        The result holds the kind's metrics and any feedback data its template shows
        (plain JSON). Raise BadOutput, with a message for the student and one for
        staff, when an output cannot be scored.
        """

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        """Plain-text lines of the kind's feedback for `grader grade`'s report (after the metrics line)."""
        return []

    def summary(self, metrics: Mapping[str, Any]) -> str:
        """One line of the metrics that matter, e.g. 'accuracy 0.9600, macro F1 0.9590'."""
        shown = []
        for name in self.summary_metrics:
            value = metrics.get(name)
            metric = self.metrics[name]
            text = "unknown" if not isinstance(value, (int, float)) else metric.format(value)
            shown.append(f"{metric.label[0].lower()}{metric.label[1:]} {text}")
        return ", ".join(shown)
