"""Task kinds: the registry, and the classification kind's data checks and trusted scoring."""

from __future__ import annotations

import numpy as np
import pytest

from grader.core.errors import BadOutput, SpecError
from grader.core.kinds import KINDS, Aids, kind_named
from grader.core.kinds.classification import CLASSIFICATION, ClassificationSpec
from grader.core.validate import Where

WHERE = Where("assignments/x/assignment.yaml", "dataset")
IMAGES = ClassificationSpec("images", (8, 8, 1), 3, measure_generalization=True)
TOKENS = ClassificationSpec("tokens", (5,), 2, vocab_size=10)


def image_data(n_train: int = 6, n_test: int = 4):
    rng = np.random.default_rng(0)
    public = {
        "x_train": rng.random((n_train, 8, 8, 1), dtype=np.float32),
        "y_train": np.arange(n_train, dtype=np.int64) % 3,
        "x_test": rng.random((n_test, 8, 8, 1), dtype=np.float32),
    }
    return public, {"y_test": np.arange(n_test, dtype=np.int64) % 3}


def test_every_kind_declares_metrics_with_a_direction_and_a_feedback_template():
    assert kind_named("classification") is CLASSIFICATION
    for kind in KINDS.values():
        assert kind.metrics and kind.feedback_template.endswith(".html")
        assert set(kind.summary_metrics) <= set(kind.metrics)
        assert set(kind.reported) <= set(kind.metrics)
    gap = CLASSIFICATION.metrics["generalization_gap"]
    assert (gap.higher_is_better, gap.relative) == (False, False)


def test_declared_image_data_passes_its_checks():
    public, hidden = image_data()
    CLASSIFICATION.check_data(IMAGES, public, hidden, WHERE)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda p, h: p.update(x_train=p["x_train"].reshape(6, 64)),
            "dataset: x_train has shape (6, 64), but the assignment declares (n, 8, 8, 1) (images input_shape [8, 8, 1])",
        ),
        (lambda p, h: p.update(x_test=p["x_test"] * 255), "dataset: x_test must hold pixel values in [0, 1], got"),
        (lambda p, h: p.update(x_test=p["x_test"].astype(np.float64)), "dataset: x_test must be float32, not float64"),
        (lambda p, h: h.update(y_test=h["y_test"] + 5), "dataset: y_test holds classes 5 to 7, outside 0..2"),
        (
            lambda p, h: p.update(y_train=p["y_train"][:3]),
            "dataset: y_train must be 6 integer class ids, got shape (3,)",
        ),
        (lambda p, h: h.pop("y_test"), "dataset: the data set has no hidden y_test"),
    ],
)
def test_data_that_does_not_fit_the_declared_shapes_names_what_differs(change, expected):
    public, hidden = image_data()
    change(public, hidden)
    with pytest.raises(SpecError) as caught:
        CLASSIFICATION.check_data(IMAGES, public, hidden, WHERE)
    assert str(caught.value).startswith(f"{WHERE.source}: {expected}")


def test_token_ids_must_lie_in_the_vocabulary():
    public = {
        "x_train": np.array([[1, 2, 0, 0, 0], [3, 10, 0, 0, 0]], dtype=np.int64),
        "y_train": np.array([0, 1]),
        "x_test": np.array([[1, 0, 0, 0, 0]], dtype=np.int64),
    }
    with pytest.raises(SpecError, match=r"x_train holds token ids from 0 to 10, outside 0..9 \(vocab_size 10\)"):
        CLASSIFICATION.check_data(TOKENS, public, {"y_test": np.array([1])}, WHERE)


def test_the_job_tells_the_harness_what_to_build_and_predict():
    public, _ = image_data()
    job = CLASSIFICATION.job(IMAGES, public)
    assert job["build_args"] == [[8, 8, 1], 3]
    assert job["predict"] == {"predictions": "x_test", "train_predictions": "x_train"}
    assert CLASSIFICATION.job(TOKENS, public)["build_args"] == [10, 2]


def test_generalization_is_measured_from_both_sets_of_predictions():
    public, hidden = image_data()
    outputs = {
        "predictions": np.array([0, 1, 0, 0]),  # test labels 0 1 2 0: 3 of 4 right
        "train_predictions": np.eye(3, dtype=np.float32)[public["y_train"]],  # scores, all right
    }
    metrics = CLASSIFICATION.score(IMAGES, outputs, {**public, **hidden}, Aids())
    assert metrics["accuracy"] == 0.75
    assert metrics["train_accuracy"] == 1.0
    assert metrics["generalization_gap"] == 0.25


def test_bad_training_predictions_say_which_set_is_wrong():
    public, hidden = image_data()
    outputs = {"predictions": np.array([0, 1, 2, 0]), "train_predictions": np.array([0, 1, 2])}
    with pytest.raises(BadOutput) as caught:
        CLASSIFICATION.score(IMAGES, outputs, {**public, **hidden}, Aids())
    assert caught.value.student_message.startswith(
        "Your predictions on the training inputs cannot be scored: Expected 6 predictions, one per training input, got 3."
    )


def test_summary_names_the_metrics_the_kind_shows():
    metrics = {"accuracy": 0.9612, "macro_f1": 0.95, "parameters": None}
    assert CLASSIFICATION.summary(metrics) == "accuracy 0.961, macro F1 0.950, parameter count unknown"
