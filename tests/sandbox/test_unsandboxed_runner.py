"""UnsandboxedRunner: wall and CPU limits, output cap, cleanup, and loud warnings."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import pytest

from grader.core.limits import Limits
from grader.sandbox import Mount, RunSpec, Termination, UnsandboxedRunner
from tests.sandbox.test_channel import Doubler

LIMITS = Limits(wall_seconds=2, cpu_seconds=10, output_bytes=10_000, disk_bytes=16 * 2**20)


@pytest.fixture
def runner(caplog) -> UnsandboxedRunner:
    caplog.set_level(logging.WARNING, logger="grader.sandbox")
    return UnsandboxedRunner()


@pytest.fixture
def spec(fixtures_dir: Path, marker: str):
    """Return a function making the RunSpec of a fixture program run directly on the host."""

    def make(fixture: str, *args: str, limits: Limits = LIMITS, **fields) -> RunSpec:
        argv = (sys.executable, str(fixtures_dir / f"{fixture}.py"), marker, *args)
        return RunSpec(argv=argv, mounts=fields.pop("mounts", ()), limits=limits, **fields)

    return make


def test_warns_loudly_on_construction_and_each_run(caplog, spec):
    caplog.set_level(logging.WARNING, logger="grader.sandbox")
    UnsandboxedRunner().run(spec("exit_with", "0"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "grader.sandbox"]
    assert len(warnings) >= 2 and all("SANDBOX" in r.getMessage().upper() for r in warnings)


def test_exit_code_and_output(runner, spec):
    result = runner.run(spec("exit_with", "3"))
    assert result.termination is Termination.EXITED and result.exit_code == 3
    assert "hello from the sandbox" in result.log and "to stderr" in result.log
    assert result.cpu_s > 0 and result.peak_memory_bytes > 1_000_000


def test_wall_limit_kills_the_whole_process_group(runner, spec, marked, kill_marked):
    started = time.monotonic()
    result = runner.run(spec("child_sleeps"))
    assert result.termination is Termination.WALL_LIMIT
    assert time.monotonic() - started < 3.5
    time.sleep(0.1)
    assert marked() == []


def test_sleeping_program_hits_wall_limit(runner, spec, marked, kill_marked):
    result = runner.run(spec("ignore_sigterm"))
    assert result.termination is Termination.WALL_LIMIT and 2 <= result.wall_s < 3
    assert marked() == []


def test_cpu_limit_uses_rlimit_cpu(runner, spec, kill_marked):
    result = runner.run(spec("spin", limits=Limits(wall_seconds=10, cpu_seconds=1)))
    assert result.termination is Termination.CPU_LIMIT and result.cpu_s >= 0.9


def test_output_is_capped_with_a_note(runner, spec):
    result = runner.run(spec("flood_output"))
    assert result.log_dropped_bytes >= 64 * 2**20 - 10_000
    assert f"[grader] output truncated: {result.log_dropped_bytes} bytes dropped" in result.log


def test_environment_is_cleared_and_home_is_a_temp_dir(runner, spec, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "hunter2")
    result = runner.run(spec("print_env", env={"EXTRA": "1"}))
    env = json.loads(result.log)
    assert "GRADER_SECRET" not in env and env["EXTRA"] == "1" and env["PATH"] == "/usr/bin:/bin"
    assert env["HOME"].startswith("/") and not Path(env["HOME"]).exists()  # removed after the run


def test_visible_path_and_cwd_are_host_paths(runner, spec, tmp_path):
    mount = Mount(tmp_path, "/out", writable=True)
    assert runner.visible_path(mount) == str(tmp_path)
    result = runner.run(spec("write_outside", "here.txt", mounts=(mount,), cwd="/out"))
    assert "here.txt: written" in result.log and (tmp_path / "here.txt").read_text() == "pwned"


def test_the_live_channel_works_the_same_without_a_sandbox(runner, spec):

    driver = Doubler()
    result = runner.run(spec("channel_peer", "answer"), driver)
    assert driver.answers == [0, 2, 4, 6, 8] and result.ok and result.channel_failure is None
    stopped = runner.run(spec("channel_peer", "silent", limits=dataclasses.replace(LIMITS, wall_seconds=30)), Doubler())
    assert stopped.termination is Termination.STOPPED
    assert stopped.channel_failure.timed_out
