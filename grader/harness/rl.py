"""The sandbox side of the rl kind: build, train on the run's own environments, then answer actions.

Evaluation is grader's (grader.services.episodes): once training is done, this
side says it is ready over the live channel and answers one action per
observation until grader closes the channel. Nothing here is trusted: grader
checks every action and steps its own environment.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from . import frameworks
from .channel import ChannelClosed, RunChannel
from .protocol import FINAL_PHASE
from .report import SubmissionFailure, note


def run(run: Any, module: Any, data: dict[str, np.ndarray]) -> None:
    """Build the agent, train it with make_env, then serve act() to grader's evaluation."""
    make_env = environment_maker(run.kind)
    probe = make_env()
    spaces = (probe.observation_space, probe.action_space)
    build_agent = run.student_function(module, "build_agent", True, "build_agent(observation_space, action_space)")
    train = run.student_function(module, "train", True, "train(agent, make_env)")
    act = run.student_function(module, "act", False, "act(agent, observation)")
    agent = run.call("build_agent", build_agent, *spaces)
    framework = frameworks.detect(agent)
    if framework is not None:
        run.check_framework(agent, phase="build_agent")
    elif act is None:
        raise SubmissionFailure(
            "build_agent",
            f"build_agent returned a {type(agent).__name__}: an agent that is not a Keras or PyTorch network "
            "needs an act(agent, observation) that picks its action",
        )
    else:
        note(f"agent: {type(agent).__name__} (its act picks the actions)")
    trained = run.call("train", train, agent, make_env)
    if trained is not None:
        agent = trained
    policy = act or network_act(framework)
    try:
        run.call("act", serve, RunChannel.inherited(), policy, agent, probe.observation_space)
    except SubmissionFailure as failure:
        if act is None and np.ndim(probe.observation_space.sample()) == 0:
            failure.message += (
                f". Without an act(agent, observation), your network is given the observation as it is: one "
                f"number ({probe.observation_space}); define act to encode it (one-hot, say) and pick the action"
            )
        raise
    run.enter(FINAL_PHASE)


def environment_maker(kind: dict[str, Any]) -> Any:
    """make_env(seed=None): a fresh environment of the assignment, the run's own."""
    gymnasium = importlib.import_module("gymnasium")

    def make_env(seed: int | None = None) -> Any:
        env = gymnasium.make(kind["environment"], **kind["kwargs"])
        if seed is not None:
            env.reset(seed=seed)
            env.action_space.seed(seed)
        return env

    return make_env


def serve(channel: RunChannel, policy: Any, agent: Any, observation_space: Any) -> None:
    """Say ready, then answer each observation grader sends with the agent's action, until it closes."""
    channel.send({"ready": True})
    while True:
        try:
            message = channel.receive()
        except ChannelClosed:
            return
        observation = np.asarray(message["observation"], dtype=observation_space.dtype)
        action = policy(agent, observation)
        channel.send({"episode": message["episode"], "step": message["step"], "action": plain(action)})


def plain(action: Any) -> Any:
    """The action as JSON-ready Python (a number or a list of numbers); grader checks it."""
    if hasattr(action, "detach") or hasattr(action, "numpy") or isinstance(action, (np.ndarray, np.generic)):
        action = frameworks.to_numpy(action)
        return action.item() if action.ndim == 0 or action.size == 1 and action.ndim == 1 else action.tolist()
    return action


def network_act(framework: str | None) -> Any:
    """The default act of a Keras or PyTorch network: batch of one, eval mode, first output, argmax."""
    if framework == frameworks.KERAS:

        def keras_act(model: Any, observation: np.ndarray) -> int:
            # predict_on_batch: 0.3 ms a step, against 1.2 ms for model(x) and 50 ms for predict
            output = model.predict_on_batch(observation[None].astype(np.float32))
            if isinstance(output, (tuple, list)):
                output = output[0]
            return int(np.argmax(frameworks.to_numpy(output)[0]))

        return keras_act
    torch = importlib.import_module("torch")

    def torch_act(model: Any, observation: np.ndarray) -> int:
        model.eval()
        with torch.no_grad():
            output = model(
                torch.as_tensor(observation[None], dtype=torch.float32, device=frameworks.torch_device(model))
            )
        if isinstance(output, (tuple, list)):  # actor-critic: (policy logits, value)
            output = output[0]
        return int(np.argmax(frameworks.to_numpy(output)[0]))

    return torch_act
