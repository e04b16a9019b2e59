"""scikit-learn's 8x8 digits as images for generative models: real training images public, held-out images hidden.

A generation assignment scores a model's samples against real images it never
saw (the Frechet distance of the judge's features) and against the images it
trained on (the copy rate). The held-out images and their labels are therefore
hidden: a run that could read them could hand them back as its samples and
look perfect. Both parts are stratified, so every digit is in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.datasets.sklearn_digits import sklearn_data_files
from grader.datasets.source import DataParts, DataSource, Parameter


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """The 1,797 digits as (8, 8, 1) images in [0, 1]; `test_fraction` of them held out and hidden."""
    from sklearn.datasets import load_digits  # slow import: only when preparing
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]  # (1797, 8, 8, 1), NHWC
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=options["test_fraction"], random_state=seed, stratify=labels
    )
    return DataParts(public={"x_train": x_train, "y_train": y_train}, hidden={"x_test": x_test, "y_test": y_test})


SOURCE = DataSource(
    name="digits-generation",
    build=build,
    parameters={
        "test_fraction": Parameter(
            0.3,
            above=0,
            below=1,
            help="share of the digits held out (hidden) as the real images samples are compared with",
        )
    },
    hidden_package_data=sklearn_data_files,  # the digits themselves: hidden in runs
    description="scikit-learn's 8x8 handwritten digits as (8, 8, 1) images in [0, 1]; the held-out images are hidden",
)
