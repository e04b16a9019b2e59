"""scikit-learn's bundled 8x8 digits as 64 features in [0, 1], split stratified."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grader.datasets.source import DataParts, DataSource, Parameter, classification_parts


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """The 1,797 digits, flattened and scaled to [0, 1]; `test_fraction` of them hidden as test."""
    from sklearn.datasets import load_digits  # slow import: only when preparing
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=options["test_fraction"], random_state=seed, stratify=y
    )
    return classification_parts(x_train, y_train, x_test, y_test)


def sklearn_data_files() -> tuple[str, ...]:
    """scikit-learn's bundled data folders (the digits and their labels among them)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return ()
    root = Path(spec.submodule_search_locations[0]) / "datasets"
    return tuple(str(root / name) for name in ("data", "descr", "images") if (root / name).is_dir())


SOURCE = DataSource(
    name="sklearn-digits",
    build=build,
    parameters={"test_fraction": Parameter(0.25, above=0, below=1, help="share of the digits hidden as test")},
    hidden_package_data=sklearn_data_files,
    description="scikit-learn's 8x8 handwritten digits, 64 features in [0, 1]",
)
