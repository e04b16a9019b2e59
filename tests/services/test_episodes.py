"""grader's own evaluation of an agent: hidden seeds, checked actions, a random baseline, a replay."""

from __future__ import annotations

import socket
import threading

import pytest

from grader.core.kinds.rl import RL
from grader.core.validate import Section, Where
from grader.harness.channel import ChannelClosed, RunChannel
from grader.sandbox.channel import Channel, ChannelFailure
from grader.services.episodes import EpisodeDriver, check_action, episode_seeds, load_secret, random_episodes, replay

CARTPOLE = RL.parse(Section({"environment": {"id": "CartPole-v1"}, "episodes": 3}, Where("a.yaml")))
FROZENLAKE = RL.parse(
    Section({"environment": {"id": "FrozenLake-v1", "kwargs": {"is_slippery": True}}, "episodes": 3}, Where("a.yaml"))
)


def balance(observation) -> int:
    """A hand-written CartPole controller that keeps the pole up for 500 steps."""
    return 1 if observation[2] + 0.5 * observation[3] > 0 else 0


def serve(sock: socket.socket, policy) -> None:
    """The run's side, as the harness plays it: ready, then one answer per observation."""
    run = RunChannel(sock)
    run.send({"ready": True})
    while True:
        try:
            message = run.receive()
        except ChannelClosed:
            return
        run.send({"episode": message["episode"], "step": message["step"], "action": policy(message["observation"])})


def drive(spec, policy, seeds=(1, 2, 3)) -> EpisodeDriver:
    trusted, inside = socket.socketpair()
    driver = EpisodeDriver(spec, list(seeds), ready_seconds=5)
    run = threading.Thread(target=serve, args=(inside, policy), daemon=True)
    run.start()
    try:
        driver(Channel(trusted))
    finally:
        trusted.close()
        run.join(5)
    return driver


def test_the_driver_plays_every_episode_on_grader_s_environment():
    driver = drive(CARTPOLE, balance)
    assert [episode.record() for episode in driver.episodes] == [{"return": 500.0, "steps": 500}] * 3


def test_an_illegal_action_names_the_step_the_episode_and_the_action_space():
    with pytest.raises(ChannelFailure) as caught:
        drive(CARTPOLE, lambda observation: 7)
    assert caught.value.student_message == (
        "Your agent's action at step 1 of evaluation episode 1 is 7, outside this environment's actions "
        "(the action space is Discrete(2))."
    )


def test_an_action_that_is_not_a_number_is_refused():
    with pytest.raises(ChannelFailure, match="is 'left', not a whole number"):
        drive(CARTPOLE, lambda observation: "left")


@pytest.mark.parametrize("value", [True, 1.0, None, [1]])
def test_a_discrete_action_must_be_a_whole_number(value):
    import gymnasium

    with pytest.raises(ChannelFailure, match="not a whole number"):
        check_action(value, gymnasium.spaces.Discrete(2), 0, 0)


def test_box_actions_are_checked_against_their_bounds_and_finiteness():
    import gymnasium

    space = gymnasium.spaces.Box(-2.0, 2.0, (1,))
    assert check_action([1.5], space, 0, 0).tolist() == [1.5]
    for value in ([3.0], ["x"], [[1.0], 2.0], "nan"):
        with pytest.raises(ChannelFailure):
            check_action(value, space, 0, 0)


def test_seeds_depend_on_the_secret_and_the_assignment():
    seeds = episode_seeds(b"secret", "cartpole", 50)
    assert seeds == episode_seeds(b"secret", "cartpole", 50) and len(set(seeds)) == 50
    assert seeds != episode_seeds(b"other", "cartpole", 50) and seeds != episode_seeds(b"secret", "frozenlake", 50)


def test_the_secret_is_made_once_and_private(tmp_path):
    secret = load_secret(tmp_path)
    assert len(secret) == 32 and load_secret(tmp_path) == secret
    assert (tmp_path / "episode-secret").stat().st_mode & 0o777 == 0o600


def test_the_random_baseline_is_repeatable_and_poor():
    first, again = random_episodes(CARTPOLE, [1, 2, 3]), random_episodes(CARTPOLE, [1, 2, 3])
    assert [e.total for e in first] == [e.total for e in again]
    assert max(e.total for e in first) < 100


def test_the_replay_repeats_episode_one_with_its_seed_and_actions():
    driver = drive(FROZENLAKE, lambda observation: 2)  # always right: slips, falls or times out
    played = replay(FROZENLAKE, driver.episodes[0])
    assert played["steps"] == driver.episodes[0].steps == len(played["trace"])
    assert [step["action"] for step in played["trace"]] == [2] * played["steps"]
    assert played["trace"][0]["observation"] == 0  # the start state
    assert played["gif"].startswith("R0lGOD")  # base64 of "GIF8"
