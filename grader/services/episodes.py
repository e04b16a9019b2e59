"""Evaluate an agent on grader's own environment: the trusted driver of the rl kind.

The sandboxed run trains on its own environments and may do anything to them.
Here grader makes its own environment (the sandbox never touches it), plays
the assignment's episodes with seeds derived from a secret it never hands
over, and asks the run for one action per observation over the live channel
(grader.sandbox.channel). Each answer must arrive within the step limit and be
a legal action of the environment's action space; anything else ends the run
as the submission's failure. The returns recorded here are the only ones scored.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.core.kinds.rl import RlSpec
from grader.sandbox.channel import Channel, ChannelFailure, is_number

log = logging.getLogger("grader.episodes")

TRACE_STEPS = 200  # steps of the replayed episode kept as text
GIF_FRAMES = 80  # frames of the replay animation, at most
GIF_WIDTH = 240


@dataclasses.dataclass
class Episode:
    """One episode grader played: its return, its length, and the actions taken."""

    seed: int
    total: float = 0.0
    steps: int = 0
    actions: list[Any] = dataclasses.field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What the kind scores (the seed stays on the trusted side)."""
        return {"return": self.total, "steps": self.steps}


def episode_seeds(secret: bytes, slug: str, count: int, purpose: str = "evaluation") -> list[int]:
    """Seeds no run can predict: HMAC of the secret, the assignment and the episode number."""
    return [
        int.from_bytes(hmac.new(secret, f"{purpose}:{slug}:{index}".encode(), hashlib.sha256).digest()[:4], "big")
        for index in range(count)
    ]


def load_secret(cache_dir: Path) -> bytes:
    """The installation's episode secret, made on first use and kept private in the cache folder."""
    path = cache_dir / "episode-secret"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32))
        os.replace(tmp, path)  # two workers racing: both secrets are good, the last one stays
    return path.read_bytes()


def make_environment(spec: RlSpec, render: bool = False) -> Any:
    """A fresh environment of the assignment, on the trusted side."""
    import gymnasium

    if render:  # pygame draws off-screen: no display, no sound device
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    return gymnasium.make(spec.environment, **spec.kwargs, **({"render_mode": "rgb_array"} if render else {}))


Policy = Callable[[Any, int, int], Any]  # (observation, episode, step) -> action


def play(spec: RlSpec, seed: int, policy: Policy, index: int = 0, env: Any = None) -> Episode:
    """Play one episode on grader's environment, checking every action before it is taken."""
    env = env or make_environment(spec)
    observation, _ = env.reset(seed=seed)
    episode = Episode(seed)
    while True:
        action = check_action(policy(observation, index, episode.steps), env.action_space, index, episode.steps)
        observation, reward, terminated, truncated, _ = env.step(action)
        episode.actions.append(action)
        episode.total += float(reward)
        episode.steps += 1
        if terminated or truncated:
            return episode


def check_action(value: Any, space: Any, episode: int, step: int) -> Any:
    """The action as the environment takes it, or a ChannelFailure that names what is wrong with it."""
    import gymnasium

    where = f"at step {step + 1} of evaluation episode {episode + 1}"
    if isinstance(space, gymnasium.spaces.Discrete):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _illegal(f"Your agent's action {where} is {_shown(value)}, not a whole number", space, value)
        if not space.contains(np.int64(value)):
            raise _illegal(f"Your agent's action {where} is {value}, outside this environment's actions", space, value)
        return value
    array = _numbers(value)
    if array is None:
        raise _illegal(
            f"Your agent's action {where} is {_shown(value)}, not a number or a list of numbers", space, value
        )
    array = array.astype(space.dtype)
    if not space.contains(array):
        raise _illegal(
            f"Your agent's action {where} is {_shown(value)}, outside this environment's actions", space, value
        )
    return array


def _numbers(value: Any) -> np.ndarray | None:
    """Plain finite numbers (nested lists of them) as an array, else None."""
    flat = value if isinstance(value, list) else [value]
    while flat and isinstance(flat[0], list):
        flat = [item for part in flat for item in (part if isinstance(part, list) else [part])]
    if not all(is_number(item) for item in flat):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except ValueError:  # ragged
        return None


def _illegal(message: str, space: Any, value: Any) -> ChannelFailure:
    return ChannelFailure(f"{message} (the action space is {space}).", f"illegal action {value!r} for {space}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def plain_observation(observation: Any) -> Any:
    """An observation as plain JSON numbers."""
    array = np.asarray(observation)
    return array.item() if array.ndim == 0 else array.tolist()


class EpisodeDriver:
    """Drives one run: waits until it has trained, then plays every episode, asking it for each action."""

    def __init__(self, spec: RlSpec, seeds: list[int], ready_seconds: float):
        self.spec = spec
        self.seeds = seeds
        self.ready_seconds = ready_seconds  # training may take the run's whole wall limit
        self.episodes: list[Episode] = []

    def __call__(self, channel: Channel) -> None:
        hello = channel.receive(self.ready_seconds)
        if hello != {"ready": True}:
            raise ChannelFailure(
                "Your code sent grader something before its agent was ready.", f"expected ready, got {hello!r}"
            )
        env = make_environment(self.spec)
        for index, seed in enumerate(self.seeds):
            self.episodes.append(play(self.spec, seed, self._asker(channel), index, env))

    def _asker(self, channel: Channel) -> Policy:
        def ask(observation: Any, episode: int, step: int) -> Any:
            channel.send({"episode": episode, "step": step, "observation": plain_observation(observation)})
            answer = channel.receive(self.spec.step_seconds)
            if answer.get("episode") != episode or answer.get("step") != step or "action" not in answer:
                raise ChannelFailure(
                    "Your code answered grader out of turn (an answer that is not for the step asked).",
                    f"asked episode {episode} step {step}, got {_shown(answer)}",
                )
            return answer["action"]

        return ask


def random_episodes(spec: RlSpec, seeds: list[int]) -> list[Episode]:
    """The baseline: a uniformly random policy on the same episodes (its own seeded sampling)."""
    env = make_environment(spec)
    played = []
    for index, seed in enumerate(seeds):
        env.action_space.seed(seed)
        played.append(play(spec, seed, lambda observation, episode, step: _sample(env.action_space), index, env))
    return played


def _sample(space: Any) -> Any:
    action = space.sample()
    return int(action) if np.ndim(action) == 0 else np.asarray(action).tolist()


def replay(spec: RlSpec, episode: Episode) -> dict[str, Any]:
    """Episode 1 again, with the same seed and actions: a text trace, and frames as a GIF where rendering works."""
    env = make_environment(spec, render=True)
    observation, _ = env.reset(seed=episode.seed)
    trace, frames = [], []
    every = max(1, math.ceil(len(episode.actions) / GIF_FRAMES))
    for step, action in enumerate(episode.actions):
        if step % every == 0:
            frames.append(_frame(env))
        next_observation, reward, *_ = env.step(action)
        if step < TRACE_STEPS:
            trace.append(
                {"observation": _rounded(observation), "action": plain_observation(action), "reward": float(reward)}
            )
        observation = next_observation
    frames.append(_frame(env))
    env.close()
    gif = _gif([frame for frame in frames if frame is not None])
    return {"trace": trace, "steps": len(episode.actions), **({"gif": gif} if gif else {})}


def _frame(env: Any) -> np.ndarray | None:
    try:
        frame = env.render()
    except Exception as exc:  # noqa: BLE001 - no display or no pygame: the text trace stays
        log.info("rendering is not available: %s", exc)
        return None
    return frame if isinstance(frame, np.ndarray) and frame.ndim == 3 else None


def _gif(frames: list[np.ndarray]) -> str:
    """The frames as a looping animated GIF, base64-encoded; '' when there are none."""
    if not frames:
        return ""
    from PIL import Image

    images = []
    for frame in frames:
        image = Image.fromarray(frame.astype(np.uint8))
        height = max(1, round(image.height * GIF_WIDTH / image.width))
        images.append(image.resize((GIF_WIDTH, height)))
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _rounded(observation: Any) -> Any:
    value = plain_observation(observation)
    if isinstance(value, list):
        return [round(item, 3) if isinstance(item, float) else item for item in value]
    return round(value, 3) if isinstance(value, float) else value
