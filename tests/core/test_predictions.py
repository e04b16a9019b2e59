"""Turning a submission's predictions into class ids, and every rejection."""

import numpy as np
import pytest

from grader.core.errors import BadOutput
from grader.core.outcomes import Outcome
from grader.core.predictions import to_class_ids

N, K = 4, 3
IDS = np.array([0, 2, 1, 2])


def rejection(predictions, n: int = N, num_classes: int = K) -> BadOutput:
    with pytest.raises(BadOutput) as caught:
        to_class_ids(predictions, n, num_classes)
    error = caught.value
    assert error.outcome is Outcome.BAD_OUTPUT
    assert "/" not in error.student_message  # no paths for students
    return error


@pytest.mark.parametrize(
    "predictions",
    [
        IDS,
        IDS.astype(np.int8),
        IDS.astype(np.uint16),
        IDS.astype(np.float32),
        IDS.astype(np.float64).reshape(N, 1),
        IDS.reshape(N, 1),
    ],
)
def test_accepts_class_ids(predictions):
    result = to_class_ids(predictions, N, K)
    assert result.dtype == np.int64 and result.shape == (N,)
    assert result.tolist() == IDS.tolist()


def test_accepts_booleans_as_ids():
    assert to_class_ids(np.array([True, False, True, True]), N, K).tolist() == [1, 0, 1, 1]


def test_accepts_scores_taking_the_argmax():
    scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [-1.0, 3.0, 2.0], [0.0, 0.0, 0.5]], dtype=np.float32)
    assert to_class_ids(scores, N, K).tolist() == [0, 2, 1, 2]


def test_score_ties_go_to_the_first_maximum():
    scores = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [1, 1, 1], [0, 0, 0]], dtype=np.float64)
    assert to_class_ids(scores, N, K).tolist() == [0, 1, 0, 0]


def test_accepts_integer_one_hot_scores():
    assert to_class_ids(np.eye(K, dtype=np.int64)[IDS], N, K).tolist() == IDS.tolist()


def test_accepts_an_empty_test_set():
    assert to_class_ids(np.zeros((0,), dtype=np.int64), 0, K).shape == (0,)


@pytest.mark.parametrize(
    "predictions",
    [
        np.array(["0", "1", "2", "0"]),
        np.array([0, 1, 2, 0], dtype=object),
        np.array([0, 1, 2, 0], dtype=np.complex64),
        np.zeros(N, dtype=[("label", "i4")]),
        np.array(["2025-02-13"] * N, dtype="datetime64[D]"),
    ],
)
def test_rejects_non_numeric_dtypes(predictions):
    error = rejection(predictions)
    assert "not plain numbers" in error.student_message
    assert "np.asarray(ids, dtype=np.int64)" in error.student_message
    assert str(predictions.dtype) in error.staff_detail


def test_rejects_something_that_is_not_an_array():
    assert "not an array of numbers" in rejection([0, 1, 2, 0]).student_message


def test_rejects_a_single_value():
    assert "a single value, not one prediction per test input" in rejection(np.array(1)).student_message


def test_rejects_the_wrong_length():
    error = rejection(np.zeros(449, dtype=np.int64), n=450, num_classes=10)
    assert error.student_message.startswith("Expected 450 predictions, one per test input, got 449.")
    assert "(449,)" in error.staff_detail


def test_rejects_scores_with_the_wrong_length():
    assert "Expected 4 predictions, one per test input, got 5" in rejection(np.zeros((5, K))).student_message


@pytest.mark.parametrize("shape", [(N, 2), (N, 4), (N, K, 1), (1, N)])
def test_rejects_the_wrong_shape_saying_the_expected_shapes(shape):
    error = rejection(np.zeros(shape, dtype=np.float32))
    assert f"have shape {shape}" in error.student_message
    assert "class ids of shape (4,) or class scores of shape (4, 3)" in error.student_message


def test_rejects_nan_and_inf_saying_how_many():
    scores = np.ones((N, K))
    scores[0, 0] = scores[1, 2] = np.nan
    scores[3, 1] = np.inf
    error = rejection(scores)
    assert "2 NaN and 1 infinite values" in error.student_message
    assert "2 NaN and 1 inf" in error.staff_detail


def test_rejects_nan_ids():
    assert "0 NaN and 1 infinite" in rejection(np.array([0.0, 1.0, -np.inf, 2.0])).student_message


def test_rejects_fractional_float_ids():
    error = rejection(np.array([0.0, 1.5, 2.0, 0.25]))
    assert "whole numbers, but 2 are not (the first, at position 1, is 1.5)" in error.student_message


@pytest.mark.parametrize(
    ("ids", "first"),
    [
        ([0, 1, 3, 2], "at position 2, is 3"),
        ([-1, 0, 0, 0], "at position 0, is -1"),
        ([0.0, 7.0, 0.0, 0.0], "at position 1, is 7"),
    ],
)
def test_rejects_ids_out_of_range(ids, first):
    error = rejection(np.array(ids))
    assert "Class ids must be between 0 and 2, but 1 are not" in error.student_message
    assert first in error.student_message
