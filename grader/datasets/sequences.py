"""Token sequences whose label is an order: which of a few marker tokens comes first.

Every sequence holds each marker ("A", "B", ...) exactly once, at random places
among random filler words, and is then padded to a fixed length. The label is
the marker that comes first. The bag of tokens of a sequence is drawn without
looking at the label (only the order of the markers decides it), so a model
that ignores order (counts, mean-pooled embeddings) stays at chance, while a
model that sees order (attention with positions, a recurrent network) can learn
the rule exactly.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import numpy as np

from .source import DataParts, DataSource, Parameter, classification_parts

PAD = "<pad>"


def build(options: Mapping[str, Any], seed: int) -> DataParts:
    """Generate the training and test sequences from the seed."""
    rng = np.random.default_rng(seed)
    train_size, test_size = int(options["train_size"]), int(options["test_size"])
    markers, vocab_size = int(options["markers"]), int(options["vocab_size"])
    x, y = _sequences(rng, train_size + test_size, int(options["sequence_length"]), markers, vocab_size)
    return classification_parts(
        x[:train_size],
        y[:train_size],
        x[train_size:],
        y[train_size:],  # rows are i.i.d.: already shuffled
        vocabulary=vocabulary(markers, vocab_size),
        class_names=list(string.ascii_uppercase[:markers]),
    )


def vocabulary(markers: int, vocab_size: int) -> list[str]:
    """Return id-to-token: "<pad>", the markers "A", "B", ..., then filler words "w1", "w2", ..."""
    fillers = vocab_size - 1 - markers
    return [PAD, *string.ascii_uppercase[:markers], *(f"w{index}" for index in range(1, fillers + 1))]


def _sequences(
    rng: np.random.Generator, count: int, length: int, markers: int, vocab_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return `count` padded sequences (int64, 0 = padding) and the class of the first marker in each."""
    lengths = rng.integers(length // 2, length + 1, size=count)  # unpadded lengths
    tokens = rng.integers(markers + 1, vocab_size, size=(count, length), dtype=np.int64)  # filler only
    beyond = np.arange(length) >= lengths[:, None]
    # k distinct random places inside each sequence: the k smallest random keys among its real positions
    keys = np.where(beyond, np.inf, rng.random((count, length)))
    places = np.argsort(keys, axis=1)[:, :markers]
    order = np.argsort(rng.random((count, markers)), axis=1)  # which marker goes to which place
    rows = np.arange(count)[:, None]
    tokens[rows, places] = order + 1  # marker ids are 1..markers
    tokens[beyond] = 0
    labels = order[np.arange(count), places.argmin(axis=1)].astype(np.int64)
    return tokens, labels


SOURCE = DataSource(
    name="sequence-order",
    build=build,
    parameters={
        "train_size": Parameter(8000, minimum=10, maximum=200_000, integer=True, help="training sequences"),
        "test_size": Parameter(2000, minimum=10, maximum=100_000, integer=True, help="test sequences"),
        "sequence_length": Parameter(
            40, minimum=16, maximum=1000, integer=True, help="padded length; real lengths are uniform in [L/2, L]"
        ),
        "vocab_size": Parameter(64, minimum=16, maximum=100_000, integer=True, help="token ids, padding included"),
        "markers": Parameter(4, minimum=2, maximum=8, integer=True, help="marker tokens, one class each"),
    },
    description=(
        "Random filler words with each of a few markers (A, B, ...) exactly once; the label is the marker that "
        "comes first. The bag of tokens carries no information about the label: only order does."
    ),
)
