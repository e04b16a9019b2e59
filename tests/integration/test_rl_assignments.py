"""The rl assignments graded for real: agents train in the sandbox and play grader's own episodes.

Fixture submissions (tests/fixtures/submissions/cartpole and frozenlake, named
after their behaviour) are graded against the quick variants (<slug>-quick):
fewer evaluation episodes, the same contract and rubric. Agents that play well
get full marks, a random or sabotaged one gets nothing, and every way of
breaking the live channel stops the evaluation with a message that says what
the agent did. The course's own references are checked in test_assignments.py;
the tabular reference of frozenlake, which grader does not run by itself, here.
"""

from __future__ import annotations

import pytest

from grader.assignments import load_assignment
from grader.config import load_settings
from grader.core.outcomes import Outcome, Status
from grader.sandbox import make_runner
from grader.services.grading import GradingService
from tests.integration.conftest import SUBMISSIONS, leftover_processes

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

FULL, PARTIAL, LOW = "full", "partial", "low"
FAILED_RUN = "The evaluation was stopped."  # said after a broken rule of the live evaluation
# (assignment, fixture) -> (status, outcome, score: FULL, PARTIAL, LOW or None, words the student message holds)
EXPECTED = {
    ("cartpole-quick", "passes_keras.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("cartpole-quick", "passes_torch.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("cartpole-quick", "drifts_partial.py"): (Status.SCORED, Outcome.OK, PARTIAL, ""),
    ("cartpole-quick", "random_policy.py"): (Status.SCORED, Outcome.OK, LOW, ""),
    ("cartpole-quick", "patches_environment.py"): (Status.SCORED, Outcome.OK, LOW, ""),
    ("cartpole-quick", "illegal_action.py"): (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Your agent's action at step 1 of evaluation episode 1 is 7, outside this environment's actions "
        "(the action space is Discrete(2)).",
    ),
    ("cartpole-quick", "action_not_a_number.py"): (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Your agent's action at step 1 of evaluation episode 1 is 'left', not a whole number",
    ),
    ("cartpole-quick", "sleeps_in_act.py"): (
        Status.FAILED,
        Outcome.TIMEOUT,
        None,
        "Your code did not answer within the 1 s limit for one step.",
    ),
    ("cartpole-quick", "floods_channel.py"): (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Your code sent grader a message of 2,021,161,080 bytes; at most 65,536 are accepted.",
    ),
    ("cartpole-quick", "closes_channel.py"): (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Your code closed grader's channel before the evaluation ended",
    ),
    ("cartpole-quick", "forks_and_exits.py"): (
        Status.FAILED,
        Outcome.BAD_OUTPUT,
        None,
        "Your code closed grader's channel before the evaluation ended",
    ),
    ("frozenlake-quick", "passes_tabular.py"): (Status.SCORED, Outcome.OK, FULL, ""),
    ("frozenlake-quick", "one_wrong_square_partial.py"): (Status.SCORED, Outcome.OK, PARTIAL, ""),
    ("frozenlake-quick", "network_without_act.py"): (
        Status.FAILED,
        Outcome.BAD_SUBMISSION,
        None,
        "mat1 and mat2 shapes cannot be multiplied",
    ),
}
STOPPED_AT_ONCE_SECONDS = 20  # a run that breaks the channel is stopped, not left to its 150 s wall limit


@pytest.fixture(scope="module")
def graded(service, fixture_assignments):
    """Grade every fixture once; note any process of its run still alive afterwards."""
    results = {}
    for key in EXPECTED:
        result = service.grade_file(SUBMISSIONS / key[0].removesuffix("-quick") / key[1], fixture_assignments[key[0]])
        results[key] = result
        LEFTOVERS[key] = leftover_processes("/job/job.json")
    return results


LEFTOVERS: dict[tuple[str, str], list[str]] = {}


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda key: f"{key[0]}/{key[1]}")
def test_fixture_gets_its_status_outcome_and_message(graded, key):
    status, outcome, score, words = EXPECTED[key]
    result = graded[key]
    evaluation = result.evaluation
    assert (result.status, result.outcome) == (status, outcome), (evaluation.student_message, evaluation.log[-3000:])
    assert words in evaluation.student_message
    assert LEFTOVERS[key] == []  # forked children, sleepers and floods included: nothing left running
    assert "/opt/grader" not in evaluation.student_message and ".venv" not in evaluation.student_message
    if score == FULL:
        assert result.score == result.max_score, result.criteria
    elif score == PARTIAL:
        assert 0 < result.score < result.max_score, result.criteria
    elif score == LOW:
        assert result.score <= 0.1 * result.max_score, result.criteria
    if outcome in (Outcome.BAD_OUTPUT, Outcome.TIMEOUT):  # the live evaluation's rules broken
        assert FAILED_RUN in evaluation.student_message
        assert evaluation.resources["wall_s"] < STOPPED_AT_ONCE_SECONDS, evaluation.resources


def test_an_agent_that_fools_its_own_environment_is_scored_on_graders(graded):
    evaluation = graded[("cartpole-quick", "patches_environment.py")].evaluation
    assert "my own CartPole: return 500 in 500 steps" in evaluation.log  # the patch worked in the sandbox
    assert evaluation.metrics["mean_return"] < 20  # always pushing left, on grader's CartPole
    assert evaluation.metrics["baselines"]["random"]["mean_return"] > evaluation.metrics["mean_return"]


def test_evaluation_plays_every_episode_of_the_assignment(graded, fixture_assignments):
    for key in [("cartpole-quick", "passes_torch.py"), ("frozenlake-quick", "passes_tabular.py")]:
        metrics = graded[key].evaluation.metrics
        assert metrics["episodes"] == fixture_assignments[key[0]].spec.task_spec.episodes
        assert len(metrics["returns"]) == metrics["episodes"]
        assert metrics["baselines"]["random"]["mean_return"] is not None  # the same episodes, played at random


def test_the_tabular_reference_of_frozenlake_scores_full_marks(cache_dir):
    """The NumPy Q-table reference beside the Keras and PyTorch ones: the course's own frozenlake."""
    settings = load_settings({"GRADER_CACHE_DIR": str(cache_dir)})
    runner = make_runner(bwrap_path=settings.bwrap, cgroup_parent=settings.cgroup_parent, host_uid=settings.sandbox_uid)
    assignment = load_assignment("frozenlake", settings)
    result = GradingService(settings, runner).grade_file(assignment.folder / "reference_tabular.py", assignment)
    assert result.status is Status.SCORED, result.evaluation.student_message
    assert result.score == result.max_score, result.criteria
    assert result.evaluation.metrics["mean_return"] >= 0.65  # the best possible policy wins about 74%
    assert result.evaluation.curve, "the tabular reference reported no training curve"
