"""Reinforcement learning: an agent trains in the sandbox, grader evaluates it on its own environment.

Student contract (DESIGN.md, exact):

    build_agent(observation_space, action_space)  # required; any object
    train(agent, make_env)                        # required; make_env(seed=None) -> gymnasium.Env
    act(agent, observation)                       # optional for a Keras/torch network: argmax

Training happens on the sandbox's own environments, which the submission may
do anything to. Evaluation does not trust the sandbox: grader steps its own
environment through the assignment's episodes, with seeds derived from a
secret it never hands over, and asks the run for one action at a time over a
live channel (grader.services.episodes). Only the returns grader computed
itself are scored; the same episodes played by a random policy are the
baseline that `fraction` rubric levels start from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from grader.core.errors import BadOutput
from grader.core.kinds.base import Aids, TaskKind, TaskSpec
from grader.core.rubric.spec import Metric
from grader.core.validate import Section, Where, describe

# gymnasium's environments without extra system dependencies (Box2D, MuJoCo and Atari need more)
ENTRY_POINTS = ("gymnasium.envs.classic_control", "gymnasium.envs.toy_text")
RETURN_METRICS = ("mean_return", "iqm_return", "min_return")


@dataclasses.dataclass(frozen=True)
class RlSpec(TaskSpec):
    """Which environment, how many evaluation episodes, and how long one step may take."""

    environment: str  # a gymnasium id, e.g. CartPole-v1
    kwargs: Mapping[str, Any]  # gymnasium.make(environment, **kwargs)
    episodes: int
    step_seconds: float  # the longest the run may take to answer one action
    reward_threshold: float  # an episode at or above it is solved
    max_episode_steps: int


class ReinforcementLearning(TaskKind):
    name = "rl"
    keys = ("environment", "episodes", "step_seconds", "reward_threshold")
    metrics = {
        "mean_return": Metric("mean_return", "Mean return", True, "{:.4g}", baseline="random"),
        "iqm_return": Metric("iqm_return", "Interquartile mean return", True, "{:.4g}", baseline="random"),
        "min_return": Metric("min_return", "Lowest return", True, "{:.4g}", baseline="random"),
        "solved_rate": Metric("solved_rate", "Solved rate", True, "{:.0%}"),
    }
    summary_metrics = ("mean_return", "iqm_return", "solved_rate")
    feedback_template = "kinds/rl.html"
    uses_dataset = False
    live = True

    def parse(self, root: Section) -> RlSpec:
        environment = Section(root.get("environment"), root.at("environment"), ("id", "kwargs"))
        env_id = environment.string("id")
        registered = _registered(env_id, environment.at("id"))
        kwargs = environment.get("kwargs") if "kwargs" in environment else {}
        if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
            raise environment.at("kwargs").expected("a mapping of gymnasium.make arguments", kwargs)
        threshold = registered.reward_threshold
        if "reward_threshold" in root:
            threshold = root.number("reward_threshold")
        elif threshold is None:
            raise root.at("reward_threshold").error(
                f"{env_id} declares no reward threshold; set reward_threshold (the return of a solved episode)"
            )
        return RlSpec(
            environment=env_id,
            kwargs=dict(kwargs),
            episodes=root.integer("episodes", 50, minimum=1, maximum=10_000),
            step_seconds=root.number("step_seconds", 1.0, above=0, maximum=60),
            reward_threshold=float(threshold),
            max_episode_steps=int(registered.max_episode_steps or 1000),
        )

    def check_data(self, spec: RlSpec, public: Mapping, hidden: Mapping, where: Where) -> None:
        """No data set: the agent learns from its environment."""

    def job(self, spec: RlSpec, public: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return {"environment": spec.environment, "kwargs": dict(spec.kwargs)}

    def outputs(self, spec: RlSpec) -> tuple[str, ...]:
        return ()

    def score(self, spec: RlSpec, outputs: Mapping, data: Mapping, aids: Aids) -> dict[str, Any]:
        """Metrics of the episodes grader played against the run (aids.live), and of the random baseline."""
        live = aids.live or {}
        episodes, random = live.get("episodes") or [], live.get("random") or []
        if len(episodes) != spec.episodes:
            raise BadOutput(
                "The evaluation did not finish: your agent did not play every episode.",
                f"{len(episodes)} of {spec.episodes} episodes recorded",
            )
        returns = [float(episode["return"]) for episode in episodes]
        return {
            **return_metrics(returns, spec.reward_threshold),
            "episodes": len(episodes),
            "steps": sum(int(episode["steps"]) for episode in episodes),
            "returns": [round(value, 6) for value in returns],
            "reward_threshold": spec.reward_threshold,
            "baselines": {"random": return_metrics([float(e["return"]) for e in random], spec.reward_threshold)},
            "replay": live.get("replay") or {},
        }

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        random = (metrics.get("baselines") or {}).get("random") or {}
        lines = []
        if isinstance(random.get("mean_return"), (int, float)):
            lines.append(f"a random policy on the same episodes: mean return {random['mean_return']:.4g}")
        returns = metrics.get("returns") or []
        if returns:
            lines.append("returns per episode: " + " ".join(f"{value:g}" for value in returns[:100]))
        trace = (metrics.get("replay") or {}).get("trace") or []
        if trace:
            lines.append(f"episode 1, first {min(len(trace), 10)} steps (observation -> action, reward):")
            lines += [f"  {step['observation']} -> {step['action']}, {step['reward']:g}" for step in trace[:10]]
        return lines


def return_metrics(returns: list[float], threshold: float) -> dict[str, float | None]:
    """Mean, interquartile mean (scipy's 25% trimmed mean), minimum and solved rate of episode returns."""
    if not returns:
        return {name: None for name in (*RETURN_METRICS, "solved_rate")}
    values = np.asarray(returns, dtype=np.float64)
    return {
        "mean_return": round(float(values.mean()), 6),
        "iqm_return": round(float(stats.trim_mean(values, 0.25)), 6),
        "min_return": round(float(values.min()), 6),
        "solved_rate": round(float(np.mean(values >= threshold)), 6),
    }


def _registered(env_id: str, where: Where) -> Any:
    """The gymnasium registration of env_id, refused unless it needs nothing beyond gymnasium itself."""
    import gymnasium  # imported when an rl assignment is read

    spec = gymnasium.envs.registry.get(env_id)
    allowed = sorted(
        name for name, entry in gymnasium.envs.registry.items() if str(entry.entry_point).startswith(ENTRY_POINTS)
    )
    if spec is None or not str(spec.entry_point).startswith(ENTRY_POINTS):
        raise where.error(
            f"{describe(env_id)} is not one of gymnasium's environments grader runs: {', '.join(allowed)}"
        )
    return spec


RL = ReinforcementLearning()
