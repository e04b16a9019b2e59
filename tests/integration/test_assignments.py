"""Every assignment of the course, graded for real: references at full marks, fixtures where they belong.

The course's own assignments (assignments/) are graded at full size once per
test session: each reference runs once (the session's shared reference cache)
and must score full marks against its rubric and both references. Fixture
submissions, named after their behaviour, are graded against the small
variants in tests/fixtures/assignments (<slug>-quick).
"""

from __future__ import annotations

import pytest

from grader.assignments import REFERENCE_FRAMEWORKS, list_slugs, load_assignment
from grader.config import load_settings
from grader.core.grading import grade
from grader.core.outcomes import Outcome, Status
from grader.sandbox import make_runner
from grader.services.grading import GradingService
from tests.integration.conftest import SUBMISSIONS
from tests.integration.parallel import build_references, grade_files

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

COURSE = [slug for slug in list_slugs(load_settings({})) if slug != "digits-mlp"]  # digits-mlp: test_cli.py

FULL, PARTIAL = "full", "partial"
# (assignment, fixture) -> (status, outcome, score: FULL, PARTIAL or None, words the student message holds)
EXPECTED = {
    ("digits-overfit-quick", "passes_keras.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("digits-overfit-quick", "passes_torch.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("digits-overfit-quick", "overfits_partial.py"): (Status.SCORED, Outcome.OK, PARTIAL, ""),
    ("digits-overfit-quick", "wrong_layout_torch.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "Your model was given images of shape (200, 1, 8, 8): PyTorch models get (n, channels, height, width) = (n, 1, 8, 8)",
    ),
    ("digits-overfit-quick", "flattens_features.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "Your model was given images of shape (200, 8, 8, 1): Keras models get (n, height, width, channels) = (n, 8, 8, 1)",
    ),
    ("sequence-attention-quick", "passes_keras.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("sequence-attention-quick", "passes_torch.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("sequence-attention-quick", "bag_of_words_partial.py"): (Status.SCORED, Outcome.OK, PARTIAL, ""),
    ("sequence-attention-quick", "wrong_vocabulary_torch.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "IndexError: index out of range in self. Your model was given token ids from 0 to 31 (vocab_size 32",
    ),
    ("shapes-cnn-quick", "passes_keras.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("shapes-cnn-quick", "passes_torch.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("shapes-cnn-quick", "dense_partial_credit.py"): (Status.SCORED, Outcome.OK, PARTIAL, ""),
    ("shapes-cnn-quick", "wrong_layout_torch.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "Your model was given images of shape (2000, 1, 28, 28): PyTorch models get (n, channels, height, width) = (n, 1, 28, 28)",
    ),
    ("shapes-cnn-quick", "wrong_layout_keras.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "Your model was given images of shape (2000, 28, 28, 1): Keras models get (n, height, width, channels) = (n, 28, 28, 1)",
    ),
    ("text-sentiment-quick", "passes_keras.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("text-sentiment-quick", "passes_torch.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("text-sentiment-quick", "bag_of_words_partial.py"): (Status.SCORED, Outcome.OK, PARTIAL, ""),
    ("text-sentiment-quick", "wrong_vocabulary_torch.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "IndexError: index out of range in self. Your model was given token ids from 0 to 175 (vocab_size 176",
    ),
    ("text-sentiment-quick", "wrong_vocabulary_keras.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "is not in [0, 100). Your model was given token ids from 0 to 175 (vocab_size 176",
    ),
}


@pytest.fixture(scope="module")
def course(cache_dir):
    """The grading service on the course's own assignments, with the session's reference cache.

    The references are run first, two at a time (tests/integration/parallel.py), into the shared
    cache; the tests then read them from it. One that fails there is run again by its test, which
    reports why.
    """
    environ = {"GRADER_CACHE_DIR": str(cache_dir)}
    build_references(environ, [(slug, framework) for slug in COURSE for framework in REFERENCE_FRAMEWORKS])
    settings = load_settings(environ)
    runner = make_runner(bwrap_path=settings.bwrap, cgroup_parent=settings.cgroup_parent, host_uid=settings.sandbox_uid)
    return settings, GradingService(settings, runner)


@pytest.mark.parametrize("slug", COURSE)
def test_both_references_of_every_assignment_score_full_marks(course, slug):
    settings, service = course
    assignment = load_assignment(slug, settings)
    evaluations = {name: service.references.evaluation(assignment, name) for name in REFERENCE_FRAMEWORKS}
    references = {name: evaluation.metrics for name, evaluation in evaluations.items()}
    for name, evaluation in evaluations.items():
        result = grade(evaluation, assignment.rubric, references)
        assert result.score == result.max_score, (name, result.criteria)
        assert evaluation.curve, f"the {name} reference reported no training curve"


@pytest.fixture(scope="module")
def graded(grader_environ):
    """Grade every fixture once, two at a time (tests/integration/parallel.py)."""
    return grade_files(
        grader_environ, {key: (SUBMISSIONS / key[0].removesuffix("-quick") / key[1], key[0]) for key in EXPECTED}
    )


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda key: f"{key[0]}/{key[1]}")
def test_fixture_gets_its_status_outcome_and_message(graded, key):
    status, outcome, score, words = EXPECTED[key]
    result = graded[key]
    evaluation = result.evaluation
    assert (result.status, result.outcome) == (status, outcome), (evaluation.student_message, evaluation.log[-3000:])
    assert words in evaluation.student_message
    assert "/opt/grader" not in evaluation.student_message and ".venv" not in evaluation.student_message
    if score == FULL:
        assert result.score == result.max_score, result.criteria
    elif score == PARTIAL:
        assert 0 < result.score < result.max_score, result.criteria
