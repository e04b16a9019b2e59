"""The rl kind: its assignment keys, and metrics of the episodes grader played."""

from __future__ import annotations

import pytest

from grader.core.errors import BadOutput, SpecError
from grader.core.kinds import Aids
from grader.core.kinds.rl import RL, RlSpec, return_metrics
from grader.core.validate import Section, Where


def parse(**keys) -> RlSpec:
    return RL.parse(Section(keys, Where("assignments/cartpole/assignment.yaml")))


def test_cartpole_takes_gymnasium_s_threshold_and_episode_length():
    spec = parse(environment={"id": "CartPole-v1"})
    assert (spec.reward_threshold, spec.max_episode_steps, spec.episodes, spec.step_seconds) == (475.0, 500, 50, 1.0)


def test_frozenlake_with_arguments_and_its_own_episode_count():
    spec = parse(environment={"id": "FrozenLake-v1", "kwargs": {"map_name": "4x4", "is_slippery": True}}, episodes=200)
    assert spec.kwargs == {"map_name": "4x4", "is_slippery": True} and spec.episodes == 200
    assert spec.reward_threshold == 0.7


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"environment": {"id": "CarRacing-v3"}},
            'environment.id: "CarRacing-v3" is not one of gymnasium\'s environments grader runs: Acrobot-v1',
        ),
        (
            {"environment": {"id": "CartPole-v1", "kwargs": [1]}},
            "environment.kwargs: expected a mapping of gymnasium.make arguments",
        ),
        ({"environment": {"id": "CartPole-v1"}, "episodes": 0}, "episodes: expected"),
        ({"environment": {"id": "CartPole-v1"}, "step_seconds": 0}, "step_seconds: expected"),
        ({"environment": {"id": "CartPole-v1", "seed": 3}}, 'environment: unknown key "seed"'),
    ],
)
def test_mistakes_name_the_field(keys, message):
    with pytest.raises(SpecError) as caught:
        parse(**keys)
    assert message in str(caught.value)


def test_return_metrics_use_the_interquartile_mean_and_the_threshold():
    metrics = return_metrics([0, 10, 20, 30, 40, 50, 60, 1000], threshold=50)
    assert metrics == {"mean_return": 151.25, "iqm_return": 35.0, "min_return": 0.0, "solved_rate": 0.375}


def test_returns_can_be_negative():
    assert return_metrics([-200.0, -100.0], threshold=-110)["mean_return"] == -150.0


def test_score_is_computed_from_grader_s_own_episodes_only():
    spec = parse(environment={"id": "CartPole-v1"}, episodes=2)
    live = {
        "episodes": [{"return": 500.0, "steps": 500}, {"return": 100.0, "steps": 100}],
        "random": [{"return": 20.0, "steps": 20}, {"return": 10.0, "steps": 10}],
        "replay": {"trace": []},
    }
    metrics = RL.score(spec, {}, {}, Aids(live=live))
    assert metrics["mean_return"] == 300.0 and metrics["solved_rate"] == 0.5 and metrics["steps"] == 600
    assert metrics["baselines"] == {
        "random": {"mean_return": 15.0, "iqm_return": 15.0, "min_return": 10.0, "solved_rate": 0.0}
    }


def test_an_unfinished_evaluation_cannot_be_scored():
    spec = parse(environment={"id": "CartPole-v1"}, episodes=3)
    with pytest.raises(BadOutput, match="did not play every episode"):
        RL.score(spec, {}, {}, Aids(live={"episodes": [{"return": 1.0, "steps": 1}]}))
