"""Metrics on small examples computed by hand."""

import json

import numpy as np
import pytest

from grader.core.metrics import ClassificationMetrics, compute_metrics

# labels    0 0 0 1 1 2
# predicted 0 0 1 1 2 2
LABELS = np.array([0, 0, 0, 1, 1, 2])
PREDICTED = np.array([0, 0, 1, 1, 2, 2])


def test_known_example():
    metrics = compute_metrics(PREDICTED, LABELS, 3)
    assert metrics.accuracy == pytest.approx(4 / 6, abs=1e-6)
    # class 0: P=2/2 R=2/3 F1=0.8; class 1: P=1/2 R=1/2 F1=0.5; class 2: P=1/2 R=1 F1=2/3
    assert metrics.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3, abs=1e-6)
    assert metrics.per_class_accuracy == pytest.approx((2 / 3, 1 / 2, 1.0), abs=1e-6)
    assert metrics.confusion_matrix == ((2, 1, 0), (0, 1, 1), (0, 0, 1))


def test_perfect_predictions():
    metrics = compute_metrics(LABELS, LABELS, 3)
    assert (metrics.accuracy, metrics.macro_f1, metrics.per_class_accuracy) == (1.0, 1.0, (1.0, 1.0, 1.0))


def test_values_are_rounded_so_float32_noise_never_decides_a_threshold():
    labels = np.arange(10) % 2
    predicted = labels.copy()
    predicted[0] = 1 - predicted[0]
    assert compute_metrics(predicted, labels, 2).accuracy == 0.9  # float32 gives 0.8999999761581421


def test_class_absent_from_labels():
    metrics = compute_metrics(np.array([0, 1, 1]), np.array([0, 1, 1]), 4)
    assert metrics.per_class_accuracy == (1.0, 1.0, None, None)
    assert metrics.macro_f1 == 1.0  # classes in neither labels nor predictions are left out
    assert metrics.confusion_matrix[3] == (0, 0, 0, 0)


def test_class_predicted_but_absent_from_labels_counts_as_zero_f1():
    metrics = compute_metrics(np.array([0, 2]), np.array([0, 1]), 3)
    assert metrics.macro_f1 == pytest.approx(1 / 3, abs=1e-6)  # classes 0: 1, 1: 0, 2: 0


def test_as_dict_is_plain_json():
    data = compute_metrics(PREDICTED, LABELS, 3).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["accuracy"] == 0.666667
    assert data["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert ClassificationMetrics(0.1234567, 0.5, (None,), ((1,),)).as_dict()["per_class_accuracy"] == [None]


@pytest.mark.parametrize(
    ("class_ids", "labels"),
    [
        (np.array([0, 1]), np.array([0, 1, 1])),
        (np.array([], dtype=np.int64), np.array([], dtype=np.int64)),
        (np.array([0.0, 1.0]), np.array([0, 1])),
        (np.array([0, 3]), np.array([0, 1])),
        (np.array([0, 1]), np.array([[0, 1]])),
    ],
)
def test_rejects_inputs_that_were_not_validated(class_ids, labels):
    with pytest.raises(ValueError):
        compute_metrics(class_ids, labels, 3)


def test_only_the_metrics_module_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, grader.core.assignment, grader.core.rubric, grader.core.predictions; print('torch' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
