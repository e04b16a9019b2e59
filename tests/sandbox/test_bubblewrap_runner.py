"""BubblewrapRunner's own failures, checks and configuration, on the real sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.core.errors import SandboxError
from grader.core.limits import Limits
from grader.sandbox import (
    BubblewrapRunner,
    Mount,
    RunSpec,
    Termination,
    UnsandboxedRunner,
    check_sandbox_available,
    make_runner,
)

pytestmark = pytest.mark.sandbox


def test_bwrap_setup_failure_raises_sandbox_error(sandbox):
    with pytest.raises(SandboxError) as caught:
        sandbox.run("exit_with", "0", cwd="/does-not-exist")
    assert "bwrap:" in caught.value.staff_detail and "does-not-exist" in caught.value.staff_detail
    assert "not your fault" in caught.value.student_message


def test_missing_mount_source_raises_sandbox_error(sandbox, tmp_path):
    missing = Mount(tmp_path / "does-not-exist", "/data")
    with pytest.raises(SandboxError) as caught:
        sandbox.run("exit_with", "0", mounts=(missing,))
    assert "does-not-exist" in caught.value.staff_detail
    assert "not your fault" in caught.value.student_message


def test_program_exiting_1_is_not_a_setup_failure(sandbox):
    result, _ = sandbox.run("exit_with", "1")
    assert result.termination is Termination.EXITED and result.exit_code == 1


def test_missing_bwrap_says_how_to_install_it():
    runner = BubblewrapRunner(bwrap_path="/nonexistent/bwrap")
    with pytest.raises(SandboxError) as from_run:
        runner.run(RunSpec(argv=("/bin/true",), mounts=(), limits=Limits()))
    with pytest.raises(SandboxError) as from_check:
        check_sandbox_available(bwrap_path="/nonexistent/bwrap")
    for caught in (from_run, from_check):
        assert "apt-get install -y bubblewrap" in caught.value.staff_detail


def test_check_sandbox_available_passes_here(bwrap_runner):
    check_sandbox_available()


def test_check_explains_a_refused_user_namespace(bwrap_runner):
    # a stand-in for bwrap on a host that forbids unprivileged user namespaces; in the
    # temp dir, which the sandbox user can traverse (pytest's tmp_path is 0700)
    fake = Path(tempfile.mkdtemp()) / "bwrap"
    fake.parent.chmod(0o755)
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace, likely because ...' >&2\nexit 1\n")
    fake.chmod(0o755)
    try:
        with pytest.raises(SandboxError) as caught:
            check_sandbox_available(bwrap_path=str(fake))
    finally:
        shutil.rmtree(fake.parent)
    assert "No permissions to create new namespace" in caught.value.staff_detail
    assert "needs unprivileged user namespaces" in caught.value.staff_detail


def test_unsafe_option_skips_the_check_loudly(caplog):
    check_sandbox_available(bwrap_path="/nonexistent/bwrap", unsafe_no_sandbox=True)
    assert "unsafe" in caplog.text.lower()


def test_make_runner_picks_the_sandbox_unless_told_otherwise():
    assert isinstance(make_runner(), BubblewrapRunner)
    assert isinstance(make_runner(unsafe_no_sandbox=True), UnsandboxedRunner)


def test_visible_path_is_the_mount_target(bwrap_runner):
    assert bwrap_runner.visible_path(Mount(Path("/host/data"), "/data")) == "/data"


def test_concurrent_runs_do_not_interfere(sandbox):
    results = {}

    def run(code: str) -> None:
        results[code] = sandbox.run("exit_with", code)[0]

    threads = [threading.Thread(target=run, args=(str(code),)) for code in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {code: r.exit_code for code, r in results.items()} == {str(c): c for c in range(4)}


def test_the_python_environment_is_visible_at_the_same_paths(sandbox):
    result, _ = sandbox.run("list_paths", sys.executable, sys.prefix)
    assert "error" not in result.log


def test_a_dead_worker_takes_its_run_along(marker, marked, kill_marked, fixtures_dir):
    repo = fixtures_dir.parents[2]
    worker = subprocess.Popen(
        [sys.executable, str(fixtures_dir / "worker_that_dies.py"), marker],
        cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
    )  # fmt: skip
    try:

        def sandboxed() -> list:
            return [p for p in marked() if p.info["cmdline"][1:2] == ["/fixtures/child_sleeps.py"]]

        assert _eventually(lambda: len(sandboxed()) == 2, 10), "the sandboxed program never started"
        worker.kill()
        worker.wait()
        assert _eventually(lambda: marked() == [], 3)  # --die-with-parent and the pid namespace
    finally:
        worker.kill()
        worker.wait()
    BubblewrapRunner().layout()  # the next worker sweeps what the dead one left
    assert list(_run_dirs_of(worker.pid)) == []
    assert list(Path(tempfile.gettempdir()).glob(f"grader-run-{worker.pid}-*")) == []


def _run_dirs_of(pid: int) -> list[Path]:
    """Return the run cgroup dirs of worker `pid`."""
    parents = [own / "grader" for own in BubblewrapRunner().layout().own_dirs.values()]
    return [run for parent in parents for run in parent.glob(f"{pid}-*")]


def _eventually(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_exit_codes_above_the_signal_range_are_exits(sandbox):
    result, _ = sandbox.run("exit_with", "200")
    assert result.termination is Termination.EXITED and result.exit_code == 200
