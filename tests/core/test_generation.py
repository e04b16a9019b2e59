"""The generation kind: its assignment keys, data checks, the trusted check of samples, and the judge's metrics.

Samples are crafted arrays (held-out real digits, copies of training digits,
noise, broken arrays) scored by the real judge, trained once for this module.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.core.assignment import DatasetSpec
from grader.core.errors import BadOutput, SpecError
from grader.core.kinds import KINDS, Aids
from grader.core.kinds.generation import GENERATION, GenerationSpec, sample_labels
from grader.core.validate import Section, Where
from grader.datasets import prepare_dataset
from grader.judges import load_judge

SPEC = GenerationSpec((8, 8, 1), 10, conditional=True, samples_per_class=100)
WHERE = Where("assignments/x/assignment.yaml", "dataset")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits-generation data set (public and hidden arrays together) and its judge."""
    cache = tmp_path_factory.mktemp("generation-cache")
    dataset = prepare_dataset(DatasetSpec("digits-generation", 20250213, {}), cache)
    data = {**dataset.arrays("public"), **dataset.arrays("hidden")}
    return data, Aids(judge=load_judge(dataset, cache, seed=1234))


def drawn_from(images: np.ndarray, classes: np.ndarray, seed: int = 0) -> np.ndarray:
    """One image per label asked for, each drawn from the images of that class."""
    rng = np.random.default_rng(seed)
    return np.stack([images[rng.choice(np.flatnonzero(classes == label))] for label in sample_labels(SPEC)])


def score(samples: np.ndarray, digits) -> dict:
    data, aids = digits
    return GENERATION.score(SPEC, {"samples": samples}, data, aids)


def test_generation_is_registered_and_declares_lower_is_better_distances():
    assert KINDS["generation"] is GENERATION and GENERATION.needs_judge
    assert not GENERATION.metrics["frechet_distance"].higher_is_better
    assert not GENERATION.metrics["copy_rate"].higher_is_better and not GENERATION.metrics["copy_rate"].relative


def test_an_assignment_declares_shape_classes_and_whether_samples_must_show_their_label():
    root = Section({"input_shape": [8, 8, 1], "num_classes": 10, "conditional": True}, Where("a.yaml"))
    assert GENERATION.parse(root) == SPEC
    assert GENERATION.job(SPEC, {})["labels"] == [label for label in range(10) for _ in range(100)]


def test_too_few_samples_to_measure_are_refused_with_the_smallest_count_that_works():
    root = Section({"input_shape": [8, 8, 1], "num_classes": 10, "samples_per_class": 20}, Where("a.yaml"))
    with pytest.raises(SpecError, match=r"20 x 10 classes = 200 samples; at least 1,000 .* samples_per_class >= 100"):
        GENERATION.parse(root)


def test_held_out_images_in_the_public_part_are_refused(digits):
    data, _ = digits
    public = {name: data[name] for name in ("x_train", "y_train", "x_test")}
    hidden = {name: data[name] for name in ("x_test", "y_test")}
    with pytest.raises(SpecError, match="x_test must be hidden"):
        GENERATION.check_data(SPEC, public, hidden, WHERE)
    del public["x_test"]
    GENERATION.check_data(SPEC, public, hidden, WHERE)


def test_held_out_real_digits_score_as_real(digits):
    data, _ = digits
    metrics = score(drawn_from(data["x_test"], data["y_test"]), digits)
    assert metrics["frechet_distance"] < 0.1
    assert metrics["copy_rate"] < 0.08  # 5% of real digits are as near a training digit as near-copies are
    assert metrics["coverage"] > 0.99 and metrics["label_agreement"] > 0.9 and metrics["confidence"] > 0.95


def test_copies_of_training_digits_are_caught_and_left_out_of_every_other_measure(digits):
    data, _ = digits
    metrics = score(drawn_from(data["x_train"], data["y_train"]), digits)
    assert metrics["copy_rate"] == 1.0
    assert metrics["frechet_distance"] is None and metrics["confidence"] is None  # nothing left to measure
    assert metrics["label_agreement"] == 0.0 and metrics["coverage"] == 0.0
    assert "100 near-copies of training images" in GENERATION.report_lines(metrics)[-1]


def test_slightly_changed_copies_still_count_as_copies(digits):
    data, _ = digits
    copies = drawn_from(data["x_train"], data["y_train"])
    noisy = np.clip(copies + np.random.default_rng(1).normal(0, 0.03, copies.shape), 0, 1).astype(np.float32)
    assert score(noisy, digits)["copy_rate"] > 0.95


def test_noise_is_far_from_real_digits_and_agrees_with_its_labels_by_chance(digits):
    metrics = score(np.random.default_rng(0).random((1000, 8, 8, 1), dtype=np.float32), digits)
    assert (
        metrics["frechet_distance"]
        > 100 * score(drawn_from(digits[0]["x_test"], digits[0]["y_test"]), digits)["frechet_distance"]
    )
    assert metrics["frechet_distance"] > 3
    assert metrics["copy_rate"] == 0.0 and metrics["label_agreement"] < 0.2


def test_one_digit_drawn_for_every_label_covers_one_class(digits):
    data, _ = digits
    sevens = data["x_test"][data["y_test"] == 7]
    metrics = score(sevens[np.arange(1000) % len(sevens)], digits)
    assert metrics["coverage"] < 0.1
    assert 0.09 <= metrics["label_agreement"] <= 0.11  # right only for the label 7
    assert metrics["per_label"][7]["agreeing"] > 90 and metrics["per_label"][3]["read_as"] == 7


def test_the_feedback_grid_holds_the_first_samples_of_each_label_as_grey_levels(digits):
    data, _ = digits
    samples = drawn_from(data["x_test"], data["y_test"])
    grid = score(samples, digits)["grid"]
    assert grid["labels"] == list(range(10))
    assert len(grid["images"]) == 10 and all(len(row) == 8 for row in grid["images"])
    assert grid["images"][3][0] == np.rint(samples[300, :, :, 0] * 255).astype(int).tolist()
    assert all(0 <= value <= 255 for row in grid["images"] for image in row for line in image for value in line)


def test_the_report_draws_samples_in_characters_and_says_what_the_judge_read(digits):
    data, _ = digits
    lines = GENERATION.report_lines(score(drawn_from(data["x_test"], data["y_test"]), digits))
    assert lines[2].startswith("label 0") and "label 9" in lines[2]
    assert any("@" in line or "%" in line for line in lines[3:11])
    assert any(line.strip().startswith("label 3: read as 3 in") for line in lines)


@pytest.mark.parametrize(
    ("samples", "words"),
    [
        (np.zeros((1000, 1, 8, 8), np.float32), "shape (1000, 1, 8, 8); expected one image per label: (1000, 8, 8, 1)"),
        (np.zeros((1000, 64), np.float32), "shape (1000, 64); expected one image per label"),
        (np.zeros((999, 8, 8, 1), np.float32), "sample returned 999 images for 1000 labels"),
        (
            np.zeros((1000, 8, 8, 1), np.uint8),
            "sample returned uint8 values; return floating-point pixel values in [0, 1] (divide 0-255",
        ),
        (np.full((1000, 8, 8, 1), np.nan, np.float32), "1000 of your 1000 samples hold NaN or infinite pixel values"),
        (
            np.linspace(-1, 1, 64000, dtype=np.float32).reshape(1000, 8, 8, 1),
            "as a tanh output gives; rescale them to [0, 1] with (x + 1) / 2",
        ),
        (np.full((1000, 8, 8, 1), 255.0, np.float32), "divide 0-255 values by 255"),
        (np.full((1000, 8, 8, 1), 300.0, np.float32), "pixel values must lie in [0, 1]"),
    ],
    ids=["channels-first", "flat", "too-few", "integers", "nan", "tanh-range", "0-255", "far-out"],
)
def test_samples_that_cannot_be_scored_say_what_is_wrong_and_what_to_do(samples, words, digits):
    with pytest.raises(BadOutput) as caught:
        score(samples, digits)
    assert words in caught.value.student_message


def test_values_a_hair_outside_the_range_are_float_noise_and_clipped(digits):
    data, _ = digits
    samples = drawn_from(data["x_test"], data["y_test"]) * 1.0005 - 0.0002
    assert score(samples.astype(np.float32), digits)["frechet_distance"] < 0.1


def test_a_data_set_missing_a_class_or_with_too_few_held_out_images_is_refused(digits):
    data, _ = digits
    keep = data["y_train"] != 9
    public = {"x_train": data["x_train"][keep], "y_train": data["y_train"][keep]}
    hidden = {name: data[name] for name in ("x_test", "y_test")}
    with pytest.raises(SpecError, match=r"y_train must hold every class 0..9 and no other .* without \[9\]"):
        GENERATION.check_data(SPEC, public, hidden, WHERE)
    few = {"x_test": data["x_test"][:100], "y_test": data["y_test"][:100]}
    public = {name: data[name] for name in ("x_train", "y_train")}
    with pytest.raises(SpecError, match="x_test holds 100 held-out images; the Frechet distance needs at least 200"):
        GENERATION.check_data(SPEC, public, few, WHERE)
