"""The warm pool with real bubblewrap: handover, limits from the handover, nothing shared, dead sandboxes replaced.

The warm program is tests/fixtures/sandbox/warm_start.py (the warm protocol, with
ways to misbehave); the job is warm_job.py, which says what it sees and leaves
files behind for the next job to look for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import pytest

from grader.sandbox import Mount, RunSpec, Termination
from grader.sandbox.pool import PoolSettings, WarmRunner
from grader.sandbox.warm import read_warm_status, warm_status_file
from tests.sandbox.conftest import FIXTURE_MOUNT, SHORT, marker_processes, run_cgroup_dirs

pytestmark = pytest.mark.sandbox


@pytest.fixture
def pool(bwrap_runner, tmp_path, marker):
    """A warm runner with one "none" pool of one sandbox, checked often; it must leave nothing behind."""
    before = run_cgroup_dirs()
    runner = WarmRunner(
        bwrap_runner,
        PoolSettings({"none": 1}, idle_seconds=600, ready_wait_seconds=20, check_seconds=0.1),
        tmp_path / "warm",
        warm_status_file(tmp_path / "warm", 4242),
    )
    yield runner
    runner.close()
    assert marker_processes(marker) == []
    assert run_cgroup_dirs() <= before


class Jobs:
    """Builds jobs whose per-job folders hold `input.txt`, each warm-startable in `mode`."""

    def __init__(self, tmp_path: Path, marker: str):
        self.tmp_path, self.marker, self.count = tmp_path, marker, 0

    def spec(self, text: str, *action: str, mode: str = "sleep", warm_seconds: str = "0", **limits) -> RunSpec:
        self.count += 1
        folder = self.tmp_path / f"job-{self.count}"
        (folder / "submission").mkdir(parents=True)
        (folder / "output").mkdir()
        (folder / "submission" / "input.txt").write_text(text)
        if action:
            (folder / "submission" / "action.txt").write_text(" ".join(action))
        job = "/fixtures/warm_job.py"
        return RunSpec(
            argv=(sys.executable, job, self.marker),
            mounts=(
                FIXTURE_MOUNT,
                Mount(folder / "submission", "/submission", per_job=True),
                Mount(folder / "output", "/output", writable=True, per_job=True),
            ),
            limits=dataclasses.replace(SHORT, **limits),
            pool="none",
            warm_argv=(sys.executable, "/fixtures/warm_start.py", self.marker, mode, warm_seconds, job),
        )


@pytest.fixture
def jobs(tmp_path, marker) -> Jobs:
    return Jobs(tmp_path, marker)


def seen(result) -> dict:
    line = next(line for line in result.log.splitlines() if line.startswith("SEEN "))
    return json.loads(line.removeprefix("SEEN "))


def test_a_job_is_handed_to_a_warm_sandbox_and_the_next_job_sees_nothing_of_it(pool, jobs):
    first = pool.run(jobs.spec("one"))
    assert first.ok and not first.warm  # the pool fills with the profile of its first job
    assert pool.wait_ready(20)
    specs = [jobs.spec("two"), jobs.spec("three")]
    results = []
    for spec in specs:
        results.append(pool.run(spec))
        assert pool.wait_ready(20)
    for spec, result, text in zip(specs, results, ("two", "three"), strict=True):
        assert result.ok, result.log
        assert result.warm and 0 <= result.handover_s < 1
        # Its /tmp and output start empty, it sees its own input only, and of processes only its own
        # (the next job's warm sandbox is warming up meanwhile, in a pid namespace of its own)
        assert seen(result) == {"tmp": [], "output": [], "processes": [1, 2], "submission": {"input.txt": text}}
        output = Path(spec.mounts[2].source)
        assert (output / "written").read_text() == text  # the job's own folder holds what it wrote
    assert pool.status()["runs"] == {"warm": 2, "cold": 1}


def test_limits_count_from_the_handover_not_the_warm_up(pool, jobs):
    # Warm-up burns 2.5 s of CPU: more than the job's wall and CPU limits.
    slow_warm_up = {"mode": "spin", "warm_seconds": "2.5", "wall_seconds": 2.0, "cpu_seconds": 1.0}
    pool.run(jobs.spec("cold", **slow_warm_up))
    assert pool.wait_ready(30)
    result = pool.run(jobs.spec("warm", "sleep", "0.5", **slow_warm_up))
    assert result.ok and result.warm, result.log
    assert 0.5 <= result.wall_s < 2.0 and result.cpu_s < 1.0
    assert pool.wait_ready(30)
    over = pool.run(jobs.spec("too long", "sleep", "30", **slow_warm_up))
    assert over.warm and over.termination is Termination.WALL_LIMIT
    assert 2.0 <= over.wall_s < 4.0  # two seconds after the handover, not after the start


def test_the_job_gets_its_own_memory_limit_at_handover(pool, jobs):
    pool.run(jobs.spec("cold"))  # the warm sandbox starts under this job's 512 MiB
    assert pool.wait_ready(20)
    result = pool.run(jobs.spec("hungry", "allocate", "0", memory_bytes=96 * 1024**2))
    assert result.warm and result.termination is Termination.MEMORY_LIMIT
    assert result.peak_memory_bytes <= 100 * 1024**2


@pytest.mark.parametrize("mode", ["die", "junk", "die-ready"])
def test_a_sandbox_that_breaks_while_idle_is_replaced_and_never_handed_a_job(pool, jobs, mode, caplog):
    caplog.set_level(logging.INFO, logger="grader.sandbox.warm")
    pool.run(jobs.spec("cold", mode=mode, warm_seconds="0.2"))
    deadline = time.monotonic() + 20
    while pool.status()["dropped"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    status = pool.status()
    assert (status["replaced"], status["dropped"]) == (3, 1)  # replaced three times, then no more restarts
    assert status["pools"]["none"] == {"size": 1, "ready": 0, "warming": 0}
    assert "; replaced." in caplog.text and "not replaced: 3 died in a row" in caplog.text
    time.sleep(0.5)
    assert pool.status()["replaced"] == 3  # it stays so while no job comes
    result = pool.run(jobs.spec("after", mode=mode, warm_seconds="0.2"))
    assert result.ok and not result.warm  # it ran cold: a broken sandbox is never handed a job
    assert seen(result)["submission"] == {"input.txt": "after"}
    deadline = time.monotonic() + 20
    while pool.status()["replaced"] == 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pool.status()["replaced"] > 3  # the job warmed the pool up again


def test_unused_sandboxes_are_retired_after_the_idle_lifetime(bwrap_runner, tmp_path, jobs, marker):
    runner = WarmRunner(bwrap_runner, PoolSettings({"none": 1}, idle_seconds=0.3, check_seconds=0.1), tmp_path / "w")
    try:
        runner.run(jobs.spec("cold"))
        assert runner.wait_ready(20)
        deadline = time.monotonic() + 10
        while runner.status()["retired"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert runner.status()["retired"] == 1
        assert runner.status()["pools"]["none"] == {"size": 1, "ready": 0, "warming": 0}
        assert marker_processes(marker) == []
        assert not runner.run(jobs.spec("next")).warm  # not replaced until work came
    finally:
        runner.close()


def test_jobs_no_pool_fits_run_cold(pool, jobs):
    pool.run(jobs.spec("fills the none pool"))
    assert pool.wait_ready(20)
    other_pool = dataclasses.replace(jobs.spec("torch"), pool="torch")
    no_warm_program = dataclasses.replace(jobs.spec("plain"), warm_argv=())
    assert [pool.run(spec).warm for spec in (other_pool, no_warm_program)] == [False, False]
    other_profile = dataclasses.replace(jobs.spec("other env"), env={"SEED": "2"})
    assert pool.run(other_profile).warm is False  # and the pool now follows this profile
    assert pool.wait_ready(20)
    assert pool.run(dataclasses.replace(jobs.spec("same env"), env={"SEED": "2"})).warm


def test_the_pool_state_is_published_for_the_worker(pool, jobs, tmp_path):
    pool.run(jobs.spec("cold"))
    assert pool.wait_ready(20)
    pool.run(jobs.spec("warm"))
    status = read_warm_status(tmp_path / "warm", 4242)
    assert status["runs"] == {"warm": 1, "cold": 1}
    assert status["last"]["warm"] is True and status["pools"]["none"]["size"] == 1
