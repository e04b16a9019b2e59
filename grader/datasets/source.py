"""What a data set provides: its parameters, and arrays split into a public and a hidden part.

A data set is registered by name (`grader.datasets.SOURCES`). Its builder is a
pure function of its parameters and a seed: the same assignment always gets the
same bytes, so reference results and data hashes stay comparable. Only data
that ships inside an installed package or that the project generates is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One option of a data set in assignment.yaml's `dataset` section."""

    default: int | float
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # strictly greater than
    below: float | None = None  # strictly less than
    integer: bool = False
    help: str = ""


@dataclasses.dataclass(frozen=True)
class DataParts:
    """Arrays by name: `public` enters the sandbox, `hidden` stays on the trusted side.

    `documents` are public JSON values (a vocabulary, say) written next to the
    public arrays for students' code and statements to use.
    """

    public: dict[str, np.ndarray]
    hidden: dict[str, np.ndarray]
    documents: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A registered data set: how to build it and what it declares."""

    name: str
    build: Callable[[Mapping[str, Any], int], DataParts]  # (options with defaults filled in, seed)
    parameters: Mapping[str, Parameter] = dataclasses.field(default_factory=dict)
    hidden_package_data: Callable[[], tuple[str, ...]] = lambda: ()  # files runs must not see
    description: str = ""


def classification_parts(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, **documents: Any
) -> DataParts:
    """The standard parts of a classification data set (test labels hidden)."""
    return DataParts(
        public={"x_train": x_train, "y_train": y_train, "x_test": x_test},
        hidden={"y_test": y_test},
        documents=dict(documents),
    )
