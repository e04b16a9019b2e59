"""Benchmark: evaluation throughput over the live channel against the same policy in one process.

The same hand-written CartPole controller plays the same episodes twice per
round: in grader's own process (`grader.services.episodes.play`, the policy a
plain function call) and in a bubblewrap sandbox answering over the live
channel (`EpisodeDriver`: one JSON frame each way per step, every action
checked). Rounds alternate the two; medians of steps per second are compared.
The sandbox's start-up (about 0.1 s) is outside the timed part: the driver's
clock starts when the run says it is ready.

    .venv/bin/python bench/bench_rl_channel.py [--rounds 5] [--episodes 10]

Target (issue 10): reported as a ratio; an evaluation of 50 CartPole episodes
(25,000 steps) should take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.core.kinds.rl import RL  # noqa: E402
from grader.core.limits import Limits  # noqa: E402
from grader.core.validate import Section, Where  # noqa: E402
from grader.sandbox import Mount, RunSpec, make_runner  # noqa: E402
from grader.sandbox.channel import Channel  # noqa: E402
from grader.services.episodes import EpisodeDriver, play  # noqa: E402

PEER = """
import sys
sys.path.insert(0, "/opt/grader")
from harness.channel import ChannelClosed, RunChannel

channel = RunChannel.inherited()
channel.send({"ready": True})
while True:
    try:
        message = channel.receive()
    except ChannelClosed:
        break
    angle, velocity = message["observation"][2], message["observation"][3]
    channel.send({"episode": message["episode"], "step": message["step"], "action": 1 if angle + 0.5 * velocity > 0 else 0})
"""


def balance(observation, episode, step) -> int:
    return 1 if observation[2] + 0.5 * observation[3] > 0 else 0


class TimedDriver(EpisodeDriver):
    """The evaluation's driver, timed from the run's ready message to the last episode."""

    def __call__(self, channel: Channel) -> None:
        original = channel.receive
        first = True

        def receive(timeout: float):
            nonlocal first
            message = original(timeout)
            if first:
                self.started, first = time.perf_counter(), False
            return message

        channel.receive = receive
        super().__call__(channel)
        self.seconds = time.perf_counter() - self.started


def in_process(spec, seeds) -> tuple[int, float]:
    started = time.perf_counter()
    steps = sum(play(spec, seed, balance, index).steps for index, seed in enumerate(seeds))
    return steps, time.perf_counter() - started


def over_channel(spec, seeds, runner, folder: Path) -> tuple[int, float]:
    driver = TimedDriver(spec, seeds, ready_seconds=30)
    run = RunSpec(
        argv=(sys.executable, "-s", "/job/peer.py"),
        mounts=(Mount(ROOT / "grader" / "harness", "/opt/grader/harness"), Mount(folder, "/job")),
        limits=Limits(wall_seconds=120, cpu_seconds=240, max_processes=64),
        env={"OMP_NUM_THREADS": "1"},
    )
    result = runner.run(run, driver)
    if result.channel_failure or not result.ok:
        raise SystemExit(f"the sandboxed peer failed: {result.channel_failure or result.termination}\n{result.log}")
    return sum(episode.steps for episode in driver.episodes), driver.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args()
    spec = RL.parse(Section({"environment": {"id": "CartPole-v1"}, "episodes": args.episodes}, Where("bench")))
    seeds = list(range(args.episodes))
    runner = make_runner()
    folder = Path(tempfile.mkdtemp(prefix="bench-rl-"))
    (folder / "peer.py").write_text(PEER)
    folder.chmod(0o755)
    (folder / "peer.py").chmod(0o644)
    local, remote = [], []
    for _ in range(args.rounds):
        steps, seconds = in_process(spec, seeds)
        local.append(steps / seconds)
        steps, seconds = over_channel(spec, seeds, runner, folder)
        remote.append(steps / seconds)
    local_rate, remote_rate = statistics.median(local), statistics.median(remote)
    print(f"CartPole-v1, {args.episodes} episodes ({steps} steps) per round, {args.rounds} rounds, medians:")
    print(f"  in one process:          {local_rate:>10,.0f} steps/s")
    print(f"  over the live channel:   {remote_rate:>10,.0f} steps/s  (sandboxed run, every action checked)")
    print(f"  ratio (channel / local): {remote_rate / local_rate:.3f}")
    print(f"  50 episodes of 500 steps over the channel: {25_000 / remote_rate:.1f} s")


if __name__ == "__main__":
    main()
