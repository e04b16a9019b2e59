"""Check a submission's predictions and turn them into class ids.

Accepted: class ids of shape (n,) or (n, 1) (integers, or floats/booleans whose
values are whole numbers), or class scores of shape (n, num_classes) (the
argmax of each row; ties go to the first maximum). Anything else is a
`BadOutput` whose student message says what is wrong and what to do.
"""

from __future__ import annotations

import numpy as np

from grader.core.errors import BadOutput

_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
_CONTRACT = "Return class ids with one integer per test input, or class scores with one row per test input."


def to_class_ids(predictions: np.ndarray, n: int, num_classes: int, inputs: str = "test input") -> np.ndarray:
    """Return predictions as int64 class ids of shape (n,); raise BadOutput when they cannot be scored.

    `inputs` names what was predicted ("test input", "training input") in messages.
    """
    _check_kind(predictions)
    _check_shape(predictions, n, num_classes, inputs)
    _check_finite(predictions)
    if predictions.ndim == 2 and predictions.shape[1] == num_classes:
        return np.argmax(predictions, axis=1).astype(np.int64)
    ids = predictions.reshape(n)
    _check_ids(ids, num_classes)
    return ids.astype(np.int64)


def _check_kind(predictions: object) -> None:
    if not isinstance(predictions, np.ndarray):
        raise BadOutput(
            f"Your predictions are not an array of numbers. {_CONTRACT}",
            f"predictions are {type(predictions).__name__}, not numpy.ndarray",
        )
    dtype = predictions.dtype
    if dtype.names is not None or dtype.kind not in _NUMERIC_KINDS:
        raise BadOutput(
            f"Your predictions are not plain numbers (their type is {dtype}). {_CONTRACT} "
            "For example, return np.asarray(ids, dtype=np.int64).",
            f"predictions dtype {dtype} (kind {dtype.kind!r}) is not bool, int, uint or float",
        )
    if predictions.ndim == 0:
        raise BadOutput(
            f"Your predictions are a single value, not one prediction per test input. {_CONTRACT}",
            f"predictions are a 0-d array: {predictions!r}",
        )


def _check_shape(predictions: np.ndarray, n: int, num_classes: int, inputs: str) -> None:
    shape = predictions.shape
    staff = f"predictions shape {shape}, dtype {predictions.dtype}; expected ({n},), ({n}, 1) or ({n}, {num_classes})"
    if predictions.ndim > 2 or (predictions.ndim == 2 and shape[1] not in (1, num_classes)):
        raise BadOutput(
            f"Your predictions have shape {shape}, but this assignment expects class ids of shape ({n},) "
            f"or class scores of shape ({n}, {num_classes}) for its {num_classes} classes. {_CONTRACT}",
            staff,
        )
    if shape[0] != n:
        raise BadOutput(
            f"Expected {n} predictions, one per {inputs}, got {shape[0]}. Predict every input you are given, in order.",
            staff,
        )


def _check_finite(predictions: np.ndarray) -> None:
    if predictions.dtype.kind != "f":
        return
    nan, inf = int(np.isnan(predictions).sum()), int(np.isinf(predictions).sum())
    if nan or inf:
        raise BadOutput(
            f"Your predictions contain {nan} NaN and {inf} infinite values. "
            "Check your model's training (a diverging loss gives NaN) and return finite numbers.",
            f"predictions contain {nan} NaN and {inf} inf values; shape {predictions.shape}",
        )


def _check_ids(ids: np.ndarray, num_classes: int) -> None:
    if ids.dtype.kind == "f":
        fractional = np.flatnonzero(ids != np.round(ids))
        if fractional.size:
            first = int(fractional[0])
            raise BadOutput(
                f"Class ids must be whole numbers, but {fractional.size} are not "
                f"(the first, at position {first}, is {ids[first]:g}). "
                "Return the predicted class of each input, or one row of class scores per input.",
                f"{fractional.size} non-integral float class ids; first at index {first}: {ids[first]!r}",
            )
    outside = np.flatnonzero((ids < 0) | (ids >= num_classes))
    if outside.size:
        first = int(outside[0])
        raise BadOutput(
            f"Class ids must be between 0 and {num_classes - 1}, but {outside.size} are not "
            f"(the first, at position {first}, is {ids[first]:g}). "
            f"Number the classes 0 to {num_classes - 1}.",
            f"{outside.size} class ids outside [0, {num_classes}); first at index {first}: {ids[first]!r}",
        )
