"""digits-generate's fixtures graded end to end: real sandbox, real training, grader's own judge.

Real-looking varied samples score full marks in every framework; copies of
training images and noise score close to nothing; an unconditional model loses
the label agreement only; broken samples get a message that says what to do;
a sampler that takes too long is stopped by the time limit.
"""

from __future__ import annotations

import pytest

from grader.core.outcomes import Outcome, Status
from tests.integration.conftest import SUBMISSIONS
from tests.integration.parallel import grade_files

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

QUICK, TIGHT = "digits-generate-quick", "digits-generate-tight"
FULL, PARTIAL, NEAR_ZERO = "full", "partial", "near zero"
# fixture -> (assignment, status, outcome, score: FULL, PARTIAL, NEAR_ZERO or None, words the student message holds)
EXPECTED = {
    "passes_keras.py": (QUICK, Status.SCORED, Outcome.OK, FULL, ""),
    "passes_torch.py": (QUICK, Status.SCORED, Outcome.OK, FULL, ""),
    "passes_lightning.py": (QUICK, Status.SCORED, Outcome.OK, FULL, ""),
    "unconditional_partial.py": (QUICK, Status.SCORED, Outcome.OK, PARTIAL, ""),
    "copies_training_images.py": (QUICK, Status.SCORED, Outcome.OK, NEAR_ZERO, ""),
    "pure_noise.py": (QUICK, Status.SCORED, Outcome.OK, NEAR_ZERO, ""),
    "tanh_range.py": (
        QUICK,
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "as a tanh output gives; rescale them to [0, 1] with (x + 1) / 2",
    ),
    "wrong_shape.py": (
        QUICK,
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "sample returned an array of shape (1000, 64); expected one image per label: (1000, 8, 8, 1) from a Keras "
        "model, (1000, 1, 8, 8) from a PyTorch or Lightning model",
    ),
    "slow_sampler.py": (TIGHT, Status.FAILED, Outcome.TIMEOUT, None, "ran longer than the 20 s limit during sampling"),
}


@pytest.fixture(scope="module")
def graded(service, fixture_assignments, grader_environ):
    """Grade every fixture once: the quick variant's two at a time (tests/integration/parallel.py), then the
    tight one's alone, since its wall-clock limit is meant to end the sampling, not a run slowed by another."""
    quick = {
        name: (SUBMISSIONS / "digits-generate" / name, slug) for name, (slug, *_) in EXPECTED.items() if slug == QUICK
    }
    results = grade_files(grader_environ, quick)
    for name, (slug, *_expected) in EXPECTED.items():
        if slug != QUICK:
            results[name] = service.grade_file(SUBMISSIONS / "digits-generate" / name, fixture_assignments[slug])
    return {name: results[name] for name in EXPECTED}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_gets_its_status_outcome_score_and_message(graded, name):
    _slug, status, outcome, score, words = EXPECTED[name]
    result = graded[name]
    evaluation = result.evaluation
    assert (result.status, result.outcome) == (status, outcome), (evaluation.student_message, evaluation.log[-3000:])
    assert words in evaluation.student_message
    assert "/opt/grader" not in evaluation.student_message and ".venv" not in evaluation.student_message
    if score == FULL:
        assert result.score == result.max_score, result.criteria
    elif score == PARTIAL:
        assert 0.5 * result.max_score < result.score < result.max_score, result.criteria
    elif score == NEAR_ZERO:
        assert result.score <= 0.1 * result.max_score, result.criteria


def test_copies_are_caught_and_measured_as_nothing_else(graded):
    metrics = graded["copies_training_images.py"].evaluation.metrics
    assert metrics["copy_rate"] == 1.0 and metrics["frechet_distance"] is None and metrics["label_agreement"] == 0.0
    assert all(entry["copies"] == 100 for entry in metrics["per_label"])


def test_an_unconditional_model_draws_real_digits_but_loses_the_label_agreement(graded):
    result = graded["unconditional_partial.py"]
    points = {criterion["id"]: criterion["points"] for criterion in result.criteria}
    assert points["label-agreement"] == 0 and points["copy-rate"] == 10 and points["coverage"] > 0
    assert result.evaluation.metrics["label_agreement"] < 0.2


def test_samples_come_back_in_the_keras_layout_from_every_framework(graded):
    for name in ("passes_keras.py", "passes_torch.py", "passes_lightning.py"):
        environment = graded[name].evaluation.environment
        assert environment["output_shapes"] == {"samples": [1000, 8, 8, 1]}, name
