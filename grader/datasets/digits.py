"""scikit-learn's 8x8 digits as images, with a deliberately small and noisy training set.

Topic 2 (training and improving networks) needs a data set on which good
practice shows in the score. On clean digits an unregularised network is within
one to three points of a regularised one. With 20 training images per class and
a fifth of their labels flipped to another digit, a plain network trained long
memorises the noise (training accuracy 1.0, test about 0.75) while dropout with
shifted copies of the images, or early stopping, reaches 0.85 to 0.93. The test
set is every image not drawn for training, with its true labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.datasets.sklearn_digits import sklearn_data_files
from grader.datasets.source import DataParts, DataSource, Parameter, classification_parts

NUM_CLASSES = 10
SMALLEST_CLASS = 174  # images of the rarest digit (8) in scikit-learn's copy


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """Draw `train_per_class` images of each digit for training, flip a share of their labels, test on the rest."""
    from sklearn.datasets import load_digits  # slow import: only when preparing

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]  # (1797, 8, 8, 1), NHWC
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    per_class = int(options["train_per_class"])
    chosen = np.concatenate(
        [rng.choice(np.flatnonzero(labels == digit), per_class, replace=False) for digit in range(NUM_CLASSES)]
    )
    train = rng.permutation(chosen)  # shuffled: Keras validation_split takes the last rows as they are
    test = np.setdiff1d(np.arange(len(labels)), chosen)
    y_train = flip_labels(labels[train], float(options["label_noise"]), rng)
    return classification_parts(images[train], y_train, images[test], labels[test])


def flip_labels(labels: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Return a copy of labels in which round(share x n) of them, drawn at random, name another class."""
    noisy = labels.copy()
    flipped = rng.choice(len(labels), round(share * len(labels)), replace=False)
    noisy[flipped] = (labels[flipped] + rng.integers(1, NUM_CLASSES, len(flipped))) % NUM_CLASSES
    return noisy


SOURCE = DataSource(
    name="digits-images",
    build=build,
    parameters={
        "train_per_class": Parameter(
            20,
            minimum=1,
            maximum=SMALLEST_CLASS - 20,
            integer=True,
            help="training images per digit; every other image is in the hidden test set",
        ),
        "label_noise": Parameter(
            0.0,
            minimum=0.0,
            below=0.9,
            help="share of training labels replaced by a random other digit (test labels stay true)",
        ),
    },
    hidden_package_data=sklearn_data_files,  # the digits with their labels: hidden in runs
    description="scikit-learn's 8x8 handwritten digits as (8, 8, 1) images in [0, 1], few per class for training",
)
