"""char-lm graded for real: fixture submissions through the sandbox against the quick variant.

Each fixture is named after its behaviour (tests/fixtures/submissions/char-lm); the quick
variant's references run once per session (the shared reference cache). The full-size
assignment's references are graded by test_assignments.py like every other assignment.
"""

from __future__ import annotations

import pytest

from grader.core.outcomes import Outcome, Status
from tests.integration.conftest import SUBMISSIONS
from tests.integration.parallel import grade_files

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

ASSIGNMENT = "char-lm-quick"
FULL, PARTIAL, NONE = "full", "partial", "none"
# fixture -> (status, outcome, score, words the student message holds)
EXPECTED = {
    "passes_keras.py": (Status.SCORED, Outcome.OK, FULL, ""),
    "passes_torch.py": (Status.SCORED, Outcome.OK, FULL, ""),
    "bigram_partial.py": (Status.SCORED, Outcome.OK, PARTIAL, ""),
    "uniform_model.py": (Status.SCORED, Outcome.OK, NONE, ""),
    "nan_scores.py": (Status.FAILED, Outcome.BAD_OUTPUT, None, "Your scores contain"),
    "probabilities_not_summing.py": (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "so they read as probabilities, but their rows do not sum to one",
    ),
    "wrong_width.py": (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Each row of scores must have 28 values, one per token of the vocabulary (vocab_size 28), but yours have 29.",
    ),
    "every_position_scores.py": (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Your scores have shape (1000, 32, 28): scores for every position of every context.",
    ),
    "sequence_first_no_predict.py": (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "missing 1 required positional argument: 'hidden'. Without a predict function the grader calls your model",
    ),
}


@pytest.fixture(scope="module")
def graded(grader_environ):
    """Grade every fixture once, two at a time (tests/integration/parallel.py)."""
    return grade_files(grader_environ, {name: (SUBMISSIONS / "char-lm" / name, ASSIGNMENT) for name in EXPECTED})


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_gets_its_status_outcome_and_message(graded, name):
    status, outcome, score, words = EXPECTED[name]
    result = graded[name]
    evaluation = result.evaluation
    assert (result.status, result.outcome) == (status, outcome), (evaluation.student_message, evaluation.log[-3000:])
    assert words in evaluation.student_message
    assert "/opt/grader" not in evaluation.student_message and ".venv" not in evaluation.student_message
    if score == FULL:
        assert result.score == result.max_score, result.criteria
    elif score == PARTIAL:
        assert 0 < result.score < result.max_score, result.criteria
    elif score == NONE:
        assert result.score == 0, result.criteria


def test_nan_scores_are_counted_in_the_message(graded):
    message = graded["nan_scores.py"].evaluation.student_message
    assert "NaN" in message and "check your training" in message


def test_a_uniform_model_scores_the_vocabulary_size_as_its_perplexity(graded):
    metrics = graded["uniform_model.py"].evaluation.metrics
    assert metrics["perplexity"] == pytest.approx(28.0, abs=1e-6)
    assert metrics["accuracy"] == pytest.approx(1 / 28, abs=1e-6)
    assert metrics["baselines"]["uniform"]["perplexity"] == pytest.approx(28.0, abs=1e-6)


def test_counting_pairs_scores_exactly_the_bigram_baseline(graded):
    metrics = graded["bigram_partial.py"].evaluation.metrics
    assert metrics["perplexity"] == metrics["baselines"]["bigram"]["perplexity"]
    assert metrics["score_form"] == "log-probabilities"


def test_the_figures_sit_beside_the_baselines_and_the_floor_with_the_sample_text(graded):
    metrics = graded["passes_keras.py"].evaluation.metrics
    baselines = metrics["baselines"]
    assert metrics["entropy_floor"]["bits_per_token"] < metrics["bits_per_token"]
    assert metrics["perplexity"] < baselines["bigram"]["perplexity"] < baselines["unigram"]["perplexity"]
    assert baselines["unigram"]["perplexity"] < baselines["uniform"]["perplexity"]
    assert metrics["score_form"] == "logits"
    sample = metrics["sample"]
    assert 100 <= len(sample) <= 400 and set(sample) <= set(" .abcdefghijklmnopqrstuvwxyz")
    assert len(metrics["prompt"]) == 32


def test_a_sequence_first_model_with_the_statement_s_predict_is_read_as_log_probabilities(graded):
    assert graded["passes_torch.py"].evaluation.metrics["score_form"] == "log-probabilities"
